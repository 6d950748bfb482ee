// One line per stored policy version, for lists: the admin API's GET /admin/policy/versions and the console.
import { summarizeChanges } from '@stepgate/policy';
import type { StoredVersion } from './policy-store.service';

export interface VersionSummary {
  version: number;
  hash: string;
  author: string;
  source: StoredVersion['source'];
  restores: number | null;
  comment: string | null;
  createdAt: string;
  summary: string;
  changeCount: number;
}

export function summaryOf(v: Omit<StoredVersion, 'document'>): VersionSummary {
  return {
    version: v.version,
    hash: v.hash,
    author: v.author,
    source: v.source,
    restores: v.restores,
    comment: v.comment,
    createdAt: v.createdAt,
    // Version 1's diff is against nothing: every top-level key "added", which says less than this.
    summary: v.version === 1 && v.changes.length > 0 ? 'first version' : summarizeChanges(v.changes),
    changeCount: v.changes.length,
  };
}
