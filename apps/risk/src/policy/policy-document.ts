// A policy document: the route policy (`policy:`) and risk's tunables (`risk:` less its start-only parts),
// the unit that is versioned, audited, published and applied by every gateway and risk instance. Pure.
import { createHash } from 'node:crypto';
import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { describeIssues } from '@stepgate/contracts';
import { routePolicyIssues, routePolicySection, type RoutePolicySection } from '@stepgate/policy';
import { z } from 'zod';
import { riskTunablesSchema, stableJson, tunablesOf, loadRiskConfig, type RiskTunables } from '../config';

export interface PolicyDocument {
  policy: RoutePolicySection;
  risk: RiskTunables;
}

export const policyDocumentSchema = z.strictObject({
  policy: routePolicySection,
  risk: riskTunablesSchema,
});

export type DocumentCheck = { ok: true; document: PolicyDocument } | { ok: false; problems: string[] };

export interface DocumentRules {
  /** The gateway's upstream names (a route may only name one of them); null when unknown. */
  upstreams: readonly string[] | null;
  /** The acr a policy change needs: a document without it would lock every admin out of changing it back. */
  changeAcr: string;
}

/** Validates a whole candidate document: each section strictly, then the rules across routes. */
export function checkDocument(candidate: unknown, rules: DocumentRules): DocumentCheck {
  const parsed = policyDocumentSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, problems: describeIssues(parsed.error).split('; ') };
  const document = parsed.data;
  const problems = routePolicyIssues(document.policy, rules.upstreams).map(
    (i) => `policy.${i.path.join('.')}: ${i.message}`,
  );
  if (!document.policy.acr.levels.includes(rules.changeAcr))
    problems.push(
      `policy.acr.levels: must keep "${rules.changeAcr}" (risk.admin.changeAcr), or no one could change the policy again`,
    );
  return problems.length > 0 ? { ok: false, problems } : { ok: true, document };
}

/** sha256 of the canonical JSON: equal documents, equal hashes, whatever their key order. */
export function documentHash(document: unknown): string {
  return createHash('sha256').update(stableJson(document)).digest('hex');
}

const upstreamNames = z.looseObject({
  gateway: z.looseObject({ upstreams: z.record(z.string(), z.unknown()) }).optional(),
  policy: routePolicySection,
});

export interface FileDocument {
  document: PolicyDocument;
  upstreams: readonly string[] | null;
}

/** The config file's policy document (the bootstrap version, and each edit of it); throws ConfigError. */
export function loadFileDocument(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): FileDocument {
  const risk = loadRiskConfig(runtime);
  const file = loadConfig(upstreamNames, { file: runtime.configFile, env: runtime.env });
  return {
    document: { policy: file.policy, risk: tunablesOf(risk) },
    upstreams: file.gateway ? Object.keys(file.gateway.upstreams) : null,
  };
}
