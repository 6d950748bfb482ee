// A policy document: the route policy (`policy:`) and risk's tunables (`risk:` less its start-only parts),
// the unit that is versioned, audited, published and applied by every gateway and risk instance. Pure.
import { createHash } from 'node:crypto';
import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { describeIssues } from '@stepgate/contracts';
import { z } from 'zod';
import { riskTunablesSchema, tunablesOf, type RiskTunables } from './risk-tunables';
import { acrRank, routePolicyIssues, routePolicySection, type RoutePolicySection } from './route-policy';
import { acrLevelsSchema, routeViewOf, routeViewSchema, type RouteView } from './route-view';
import { stableJson } from './stable-json';

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
  /**
   * Set for changes through the admin API: the upstream publishing it, whose routes such a change must
   * leave guarded (enforced, for a group, stepping up to changeAcr or stronger at every level). The config
   * file is not held to it: whoever edits the file can always edit it back.
   */
  adminUpstream?: string;
}

/** Validates a whole candidate document: each section strictly, then the rules across routes. */
export function checkDocument(candidate: unknown, rules: DocumentRules): DocumentCheck {
  const parsed = policyDocumentSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, problems: describeIssues(parsed.error).split('; ') };
  const document = parsed.data;
  const { levels } = document.policy.acr;
  const problems = routePolicyIssues(document.policy, rules.upstreams).map(
    (i) => `policy.${i.path.join('.')}: ${i.message}`,
  );
  if (!levels.includes(rules.changeAcr))
    problems.push(
      `policy.acr.levels: must keep "${rules.changeAcr}" (risk.admin.changeAcr), or no one could change the policy again`,
    );
  if (rules.adminUpstream)
    problems.push(...adminRouteProblems(document.policy, rules.adminUpstream, rules.changeAcr));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, document };
}

function adminRouteProblems(policy: RoutePolicySection, upstream: string, changeAcr: string): string[] {
  const { levels } = policy.acr;
  const routes = policy.routes.map((r, i) => ({ r, i })).filter(({ r }) => r.upstream === upstream);
  if (routes.length === 0)
    return [
      `policy.routes: no route publishes the admin API (upstream ${upstream}): no one could change the policy again`,
    ];
  return routes.flatMap(({ r, i }) => {
    const at = `policy.routes.${i} (${r.id}, the admin API)`;
    const problems: string[] = [];
    if (r.mode !== 'enforce') problems.push(`${at}.mode: must stay enforce`);
    if (!r.require?.groups?.length) problems.push(`${at}.require.groups: must name the admins' group`);
    if (Object.values(r.decisions).includes('allow'))
      problems.push(`${at}.decisions: must step up or deny at every level, never allow`);
    if (!r.stepUp || acrRank(levels, r.stepUp.acr) < acrRank(levels, changeAcr))
      problems.push(`${at}.stepUp.acr: must be "${changeAcr}" (risk.admin.changeAcr) or stronger`);
    return problems;
  });
}

/** sha256 of the canonical JSON: equal documents, equal hashes, whatever their key order. */
export function documentHash(document: unknown): string {
  return createHash('sha256').update(stableJson(document)).digest('hex');
}

export type RiskView<S extends RiskTunables> =
  { ok: true; config: S; routes: RouteView[]; acrLevels: string[] } | { ok: false; problems: string[] };

const routeViews = z.looseObject({ routes: z.array(routeViewSchema), acr: acrLevelsSchema });

/**
 * A version's document as risk runs it: the tunables validated strictly, what each route decides read
 * loosely (the gateway validates routes), the start-only parts of the section (for risk: http, admin, kafka,
 * reload) from `started`, which a version never changes.
 */
export function riskViewOf<S extends RiskTunables>(document: unknown, started: S): RiskView<S> {
  const { risk, policy } = (document ?? {}) as { risk?: unknown; policy?: unknown };
  const tunables = riskTunablesSchema.safeParse(risk);
  const routes = routeViews.safeParse(policy);
  if (!tunables.success || !routes.success)
    return {
      ok: false,
      problems: [
        ...(tunables.success ? [] : [`risk: ${describeIssues(tunables.error)}`]),
        ...(routes.success ? [] : [`policy: ${describeIssues(routes.error)}`]),
      ],
    };
  return {
    ok: true,
    config: withTunables(started, tunables.data),
    routes: routes.data.routes.map(routeViewOf),
    acrLevels: routes.data.acr,
  };
}

/** `section` running `tunables`: the tunables first, then the section's own start-only parts. */
function withTunables<S extends RiskTunables>(section: S, tunables: RiskTunables): S {
  const startOnly = Object.entries(section).filter(([key]) => !Object.hasOwn(riskTunablesSchema.shape, key));
  return { ...tunables, ...Object.fromEntries(startOnly) } as S;
}

export interface FileDocument {
  document: PolicyDocument;
  upstreams: readonly string[] | null;
}

/**
 * The config file's policy document (the bootstrap version, and each edit of it); throws ConfigError.
 * `riskSection` is the reader's schema of the whole `risk:` section, its own start-only parts included: an
 * edit that breaks any of it is refused, as the reader would refuse it at start. Besides the section, it
 * reads the routes and the upstreams' names.
 */
export function loadFileDocument(
  runtime: Pick<RuntimeEnv, 'configFile' | 'env'>,
  riskSection: z.ZodType<RiskTunables>,
): FileDocument {
  const sections = z.looseObject({
    risk: riskSection,
    policy: routePolicySection,
    gateway: z.looseObject({ upstreams: z.record(z.string(), z.unknown()) }).optional(),
  });
  const file = loadConfig(sections, { file: runtime.configFile, env: runtime.env });
  return {
    document: { policy: file.policy, risk: tunablesOf(file.risk) },
    upstreams: file.gateway ? Object.keys(file.gateway.upstreams) : null,
  };
}
