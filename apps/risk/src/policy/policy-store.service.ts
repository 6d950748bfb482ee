// The policy versions in the database: the head, the history, and appending a version with compare-and-set
// (the caller names the head it started from; another writer in between makes it a conflict, never a lost
// update). Each version records its diff against the one before it.
import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { PolicySource, PolicyVersion } from '@stepgate/contracts';
import { diffPolicy, documentHash, type PolicyChange, type PolicyDocument } from '@stepgate/policy';
import { LessThan, type Repository } from 'typeorm';
import { RISK_DB } from '../database/risk.data-source';
import { Transactions } from '../database/transactions';
import { PolicyVersionEntity } from './policy-version.entity';

export interface NewVersion {
  document: PolicyDocument;
  author: string;
  source: PolicySource;
  restores: number | null;
  comment: string | null;
  /** The head version the change was made against (0: none yet). */
  expected: number;
  /** The head's own document again is no change: the head is returned and nothing recorded. */
  unlessUnchanged?: boolean;
}

export interface StoredVersion extends Omit<PolicyVersion, 'lineage'> {
  document: PolicyDocument & PolicyVersion['document'];
  changes: PolicyChange[];
}

/** The head moved since the caller read it: re-read, re-apply the change, try again. */
export class VersionConflict extends Error {
  constructor(
    readonly expected: number,
    readonly head: number,
  ) {
    super(`the policy is at version ${head}, not ${expected}`);
  }
}

@Injectable()
export class PolicyStoreService {
  constructor(
    @InjectRepository(PolicyVersionEntity, RISK_DB) private readonly rows: Repository<PolicyVersionEntity>,
    private readonly transactions: Transactions,
  ) {}

  private knownLineage: string | null = null;

  /** The store's lineage: a hash of its version 1 (null while there is none). It never changes afterwards. */
  async lineage(): Promise<string | null> {
    if (this.knownLineage) return this.knownLineage;
    const first = await this.rows.findOneBy({ version: 1 });
    if (!first) return null;
    this.knownLineage = createHash('sha256')
      .update(`${first.hash}:${Number(first.createdAt)}`)
      .digest('hex')
      .slice(0, 16);
    return this.knownLineage;
  }

  async head(): Promise<StoredVersion | null> {
    const [row] = await this.rows.find({ order: { version: 'DESC' }, take: 1 });
    return row ? storedOf(row) : null;
  }

  async get(version: number): Promise<StoredVersion | null> {
    const row = await this.rows.findOneBy({ version });
    return row ? storedOf(row) : null;
  }

  /** The newest version recorded from the config file: what the file said when it was last read. */
  async latestFrom(source: PolicySource): Promise<StoredVersion | null> {
    const [row] = await this.rows.find({ where: { source }, order: { version: 'DESC' }, take: 1 });
    return row ? storedOf(row) : null;
  }

  /** Newest first, `before` a version (exclusive) when paging. */
  async list(limit: number, before?: number): Promise<StoredVersion[]> {
    const rows = await this.rows.find({
      where: before === undefined ? {} : { version: LessThan(before) },
      order: { version: 'DESC' },
      take: limit,
    });
    return rows.map(storedOf);
  }

  /**
   * Appends the next version if the head is still `expected` (VersionConflict otherwise). The answer's
   * version is `expected` + 1, or `expected` itself when `unlessUnchanged` found nothing to record.
   */
  async append(next: NewVersion): Promise<StoredVersion> {
    try {
      return await this.transactions.run(async (em) => {
        const repo = em.getRepository(PolicyVersionEntity);
        const [head] = await repo.find({ order: { version: 'DESC' }, take: 1 });
        const current = head?.version ?? 0;
        if (current !== next.expected) throw new VersionConflict(next.expected, current);
        const hash = documentHash(next.document);
        if (next.unlessUnchanged && head?.hash === hash) return storedOf(head);
        const before: unknown = head ? JSON.parse(head.document) : {};
        const row = repo.create({
          version: current + 1,
          hash,
          document: JSON.stringify(next.document),
          changes: JSON.stringify(diffPolicy(before, next.document)),
          author: next.author,
          source: next.source,
          restores: next.restores,
          comment: next.comment,
          createdAt: Date.now(),
        });
        // Two writers that read the same head both insert head+1: the primary key lets one through, and the
        // other's insert does nothing (no error for an expected race; on one SQLite file shared by two
        // processes the second one's stale snapshot is refused instead). Whose row stands is read back.
        await repo.createQueryBuilder().insert().values(row).orIgnore().execute();
        const stands = await repo.findOneBy({ version: row.version });
        const ours =
          stands?.hash === row.hash &&
          stands.author === row.author &&
          Number(stands.createdAt) === row.createdAt;
        if (!ours) throw new VersionConflict(next.expected, row.version);
        return storedOf(row);
      });
    } catch (err) {
      if (err instanceof VersionConflict || !isWriteConflict(err)) throw err;
      // Another writer has the next version, committed or (SQLite, another process) about to be.
      const head = await this.head();
      throw new VersionConflict(next.expected, Math.max(head?.version ?? 0, next.expected + 1));
    }
  }
}

function storedOf(row: PolicyVersionEntity): StoredVersion {
  return {
    version: row.version,
    hash: row.hash,
    document: JSON.parse(row.document) as StoredVersion['document'],
    changes: JSON.parse(row.changes) as PolicyChange[],
    author: row.author,
    source: row.source,
    restores: row.restores,
    comment: row.comment,
    createdAt: new Date(Number(row.createdAt)).toISOString(),
  };
}

/**
 * Another writer got there first: a duplicate primary key on PostgreSQL (23505) or SQLite
 * (SQLITE_CONSTRAINT_PRIMARYKEY), or, with two processes on one SQLite file, a snapshot another process's
 * commit made stale (SQLITE_BUSY_SNAPSHOT) or a lock it held past busy_timeout (SQLITE_BUSY).
 */
function isWriteConflict(err: unknown): boolean {
  const { driverError, code: own } = err as { driverError?: { code?: unknown }; code?: unknown };
  const code = driverError?.code ?? own;
  return (
    typeof code === 'string' &&
    (code === '23505' || code.startsWith('SQLITE_CONSTRAINT') || code.startsWith('SQLITE_BUSY'))
  );
}
