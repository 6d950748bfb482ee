import { z } from 'zod';
import { isoTime, text } from '../common';

export const POLICY_SOURCES = ['file', 'api', 'rollback'] as const;

/**
 * One version of the policy in force, published by risk (which stores every version) on a compacted topic
 * under one key, so every gateway and risk instance, old or new, reads the newest and applies it. The document
 * is validated by whoever applies it: `policy` by the gateway, `risk` by risk.
 */
export const policyVersion = z.strictObject({
  /**
   * Names the store the versions come from (derived from its version 1). Versions compare only within one
   * lineage: a store started afresh publishes a new lineage, which followers take whatever its numbers.
   */
  lineage: z.string().regex(/^[0-9a-f]{16}$/),
  version: z.int().min(1),
  /** sha256 of the canonical JSON of `document`: equal hashes, equal policies. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  document: z.strictObject({
    policy: z.record(z.string(), z.unknown()),
    risk: z.record(z.string(), z.unknown()),
  }),
  /** Who made it: the verified subject of an admin change, `file:<path>` for a change to the config file. */
  author: text().min(1).max(256),
  source: z.enum(POLICY_SOURCES),
  /** For a rollback, the version whose document this one restores. */
  restores: z.int().min(1).nullable(),
  comment: text().max(500).nullable(),
  createdAt: isoTime,
});
export type PolicyVersion = z.infer<typeof policyVersion>;
export type PolicySource = PolicyVersion['source'];
/** One key: compaction keeps only the newest version. */
export const policyVersionKey = (): string => 'policy';

/**
 * Whether a follower running `current` (null: the config file's, none published yet) should apply
 * `published`. Within one lineage, a higher version. Across lineages (the store was started afresh and counts
 * from 1 again), the one made later: so a new store is followed, and an instance still pointed at the old
 * one, republishing its older head at start, does not pull everyone back.
 */
export function isNewer(
  published: Pick<PolicyVersion, 'lineage' | 'version' | 'createdAt'>,
  current: Pick<PolicyVersion, 'lineage' | 'version' | 'createdAt'> | null,
): boolean {
  if (current === null) return true;
  if (current.lineage === published.lineage) return published.version > current.version;
  return Date.parse(published.createdAt) > Date.parse(current.createdAt);
}
