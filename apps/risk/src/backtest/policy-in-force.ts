// The policy in force for an offline backtest (the CLI): the newest version in risk's policy store, as every
// risk instance applies it, and the config file's only when no version was ever recorded. The running
// service has its own answer (RiskPolicyService.current); this is for a process that only has the database.
import type { EntityManager } from 'typeorm';
import { riskViewOf, type RouteView } from '@stepgate/policy';
import type { RiskConfig } from '../config';
import { PolicyVersionEntity } from '../policy/policy-version.entity';
import type { PolicyInForce } from './simulation';

export interface HeadVersion {
  version: number;
  author: string;
  /** ISO 8601. */
  createdAt: string;
}

export type PolicyResolution =
  | { ok: true; inForce: PolicyInForce; head: HeadVersion | null }
  | { ok: false; head: HeadVersion; problems: string[] };

/**
 * The newest recorded version, validated as RiskPolicyService validates a published one (the start-only parts,
 * http, admin, kafka and reload, from `started`); `fromFile` when the store has no version, or no table (a
 * database from before versioned policies). Read only.
 */
export async function resolvePolicyInForce(
  em: EntityManager | null,
  started: RiskConfig,
  fromFile: () => readonly RouteView[],
): Promise<PolicyResolution> {
  const row = em ? await headRow(em) : null;
  if (!row) return { ok: true, inForce: { config: started, routes: fromFile() }, head: null };
  const head: HeadVersion = {
    version: row.version,
    author: row.author,
    createdAt: new Date(Number(row.createdAt)).toISOString(),
  };
  let document: unknown;
  try {
    document = JSON.parse(row.document);
  } catch (err) {
    return { ok: false, head, problems: [`document: not JSON (${(err as Error).message})`] };
  }
  return resolveDocument(head, document, started);
}

/** A version's document as the policy in force, validated as RiskPolicyService validates a published one. */
export function resolveDocument(head: HeadVersion, document: unknown, started: RiskConfig): PolicyResolution {
  const view = riskViewOf(document, started);
  if (!view.ok) return { ok: false, head, problems: view.problems };
  return { ok: true, inForce: { config: view.config, routes: view.routes }, head };
}

async function headRow(em: EntityManager): Promise<PolicyVersionEntity | null> {
  const runner = em.connection.createQueryRunner();
  try {
    if (!(await runner.hasTable('risk_policy_versions'))) return null;
  } finally {
    await runner.release();
  }
  const [row] = await em.getRepository(PolicyVersionEntity).find({ order: { version: 'DESC' }, take: 1 });
  return row ?? null;
}
