// The replay store shared by every gateway instance: one row per claimed proof in PostgreSQL, claimed with an
// insert that only one of two racing instances can win, and expired rows pruned in bounded batches.
import { Pool, type PoolConfig } from 'pg';
import { ReplayStoreUnavailableError } from './dpop.errors';
import { assertReplayKey, type DpopReplayStore } from './replay.store';

export const DPOP_REPLAY_TABLE = 'stepgate_dpop_jti';

export interface PostgresReplayStoreOptions {
  /**
   * A pool the caller owns (close() leaves it open), or the settings of one the store creates and owns
   * (defaults: 10 connections, 2 s connect and query timeouts, so a stuck database fails fast).
   */
  pool: Pool | PoolConfig;
  /** Default stepgate_dpop_jti; a plain lower-case identifier. */
  table?: string;
  /** Create the table and its index when missing (default true); false when a migration owns them. */
  createTable?: boolean;
  /** Time between prunes of expired rows (default 30 s; 0 disables the timer, prune() still works). */
  pruneIntervalMs?: number;
  /** Rows deleted per statement (default 1000), so no prune holds many row locks or runs long. */
  pruneBatchSize?: number;
  /** Statements per prune (default 10); what is left waits for the next one. */
  pruneMaxBatches?: number;
  /** Called when a timed prune fails (the next one retries); claims are unaffected. */
  onPruneError?: (err: ReplayStoreUnavailableError) => void;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,50}$/;
const UNDEFINED_TABLE = '42P01';

/** The table and index the store creates when missing; a migration may create them instead. */
export function dpopReplayTableDdl(table = DPOP_REPLAY_TABLE): string[] {
  if (!IDENTIFIER.test(table)) throw new TypeError('table must be a plain lower-case identifier');
  return [
    `CREATE TABLE IF NOT EXISTS "${table}" (key text PRIMARY KEY, expires_at bigint NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS "${table}_expires_at_idx" ON "${table}" (expires_at)`,
  ];
}

/**
 * Every failure (connection refused, timeout, SQL error, closed store) is a ReplayStoreUnavailableError:
 * the gateway answers 503 and admits nothing. The table is logged (not UNLOGGED) so a failover to a standby
 * keeps the claims of the last minute.
 */
export class PostgresReplayStore implements DpopReplayStore {
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly table: string;
  private readonly createTable: boolean;
  private readonly batchSize: number;
  private readonly maxBatches: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readyPromise: Promise<void> | undefined;
  private pruning: Promise<number> | undefined;
  private closed = false;

  constructor(options: PostgresReplayStoreOptions) {
    this.table = options.table ?? DPOP_REPLAY_TABLE;
    if (!IDENTIFIER.test(this.table)) throw new TypeError('table must be a plain lower-case identifier');
    this.createTable = options.createTable ?? true;
    this.batchSize = options.pruneBatchSize ?? 1000;
    this.maxBatches = options.pruneMaxBatches ?? 10;
    this.now = options.now ?? Date.now;
    if (options.pool instanceof Pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      this.pool = new Pool({
        max: 10,
        connectionTimeoutMillis: 2000,
        query_timeout: 2000,
        application_name: 'stepgate-dpop-replay',
        ...options.pool,
      });
      this.ownsPool = true;
      // An idle client losing its connection emits on the pool; unhandled, that would end the process.
      this.pool.on('error', () => undefined);
    }
    const interval = options.pruneIntervalMs ?? 30_000;
    if (interval > 0) {
      const onError = options.onPruneError ?? (() => undefined);
      this.timer = setInterval(() => {
        this.prune().catch((err: unknown) => onError(asUnavailable(err)));
      }, interval);
      this.timer.unref();
    }
  }

  /** Creates the table when missing (once; retried after a failure). claim() waits for it itself. */
  ready(): Promise<void> {
    if (!this.createTable) return Promise.resolve();
    this.readyPromise ??= this.create().catch((err: unknown) => {
      this.readyPromise = undefined;
      throw asUnavailable(err);
    });
    return this.readyPromise;
  }

  async claim(key: string, expiresAtSeconds: number): Promise<boolean> {
    assertReplayKey(key);
    if (!Number.isFinite(expiresAtSeconds)) throw new TypeError('expiresAtSeconds must be a number');
    if (this.closed) throw new ReplayStoreUnavailableError('DPoP replay store is closed');
    await this.ready();
    const now = Math.floor(this.now() / 1000);
    // At least one second, so a claim is never a no-op even for an expiry already past.
    const expiresAt = Math.max(Math.ceil(expiresAtSeconds), now + 1);
    try {
      // One statement decides: of two racing inserts, the second waits for the first and then finds a live
      // row, which the WHERE keeps. A row that has expired but not been pruned yet is taken over.
      const result = await this.pool.query(
        `INSERT INTO "${this.table}" AS claimed (key, expires_at) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE claimed.expires_at <= $3`,
        [key, expiresAt, now],
      );
      return result.rowCount === 1;
    } catch (err) {
      // Dropped behind our back: create it again on the next claim.
      if ((err as { code?: unknown }).code === UNDEFINED_TABLE) this.readyPromise = undefined;
      throw asUnavailable(err);
    }
  }

  /**
   * Deletes expired rows, at most pruneBatchSize x pruneMaxBatches of them, and says how many. Instances
   * pruning at once skip each other's locked rows instead of waiting. One prune runs at a time.
   */
  prune(): Promise<number> {
    this.pruning ??= this.pruneBatches().finally(() => (this.pruning = undefined));
    return this.pruning;
  }

  /** Stops pruning, waits for a running prune, and ends the pool when the store created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.pruning?.catch(() => undefined);
    if (this.ownsPool) await this.pool.end();
  }

  private async pruneBatches(): Promise<number> {
    if (this.closed) return 0;
    await this.ready();
    const now = Math.floor(this.now() / 1000);
    let deleted = 0;
    try {
      for (let batch = 0; batch < this.maxBatches; batch++) {
        const result = await this.pool.query(
          `DELETE FROM "${this.table}" WHERE key IN (
             SELECT key FROM "${this.table}" WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
          [now, this.batchSize],
        );
        const count = result.rowCount ?? 0;
        deleted += count;
        if (count < this.batchSize) break;
      }
    } catch (err) {
      throw asUnavailable(err);
    }
    return deleted;
  }

  private async create(): Promise<void> {
    const client = await this.pool.connect();
    let failed: unknown;
    try {
      // Two instances creating the table at once can collide in the catalog (a unique violation on
      // pg_type) despite IF NOT EXISTS; a transaction-scoped advisory lock serialises them.
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.table]);
      for (const statement of dpopReplayTableDdl(this.table)) await client.query(statement);
      await client.query('COMMIT');
    } catch (err) {
      failed = err;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      // A client that failed mid-transaction is discarded rather than handed to the next claim.
      client.release(failed !== undefined);
    }
  }
}

function asUnavailable(err: unknown): ReplayStoreUnavailableError {
  if (err instanceof ReplayStoreUnavailableError) return err;
  return new ReplayStoreUnavailableError('DPoP replay store is unavailable', { cause: err });
}
