// PostgresReplayStore against a real PostgreSQL: single use across instances, expiry, pruning, failure.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DPOP_REPLAY_TABLE,
  PostgresReplayStore,
  ReplayStoreUnavailableError,
  replayKeyOf,
} from '@stepgate/identity';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../support/postgres';

// pg's Pool.end() resolves once its clients are told to end, before their sockets close; dropping the
// database WITH (FORCE) just after can reach such a client, whose error the pool re-emits. Unheard, that
// error would end the test run.
const quiet = (pool: Pool): Pool => pool.on('error', () => undefined);

describe.skipIf(!postgresAvailable())(PostgresReplayStore.name, () => {
  let db: TestDatabase;
  let admin: Pool;
  const stores: PostgresReplayStore[] = [];
  const t0 = 1_900_000_000_000;

  const store = (extra: Partial<ConstructorParameters<typeof PostgresReplayStore>[0]> = {}) => {
    const s = new PostgresReplayStore({ pool: { connectionString: db.url }, pruneIntervalMs: 0, ...extra });
    stores.push(s);
    return s;
  };
  const rows = async (where = 'true'): Promise<number> =>
    Number(
      (await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${DPOP_REPLAY_TABLE} WHERE ${where}`))
        .rows[0]!.n,
    );
  const keys = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => replayKeyOf('A'.repeat(43), `${prefix}-${i}`));

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = quiet(new Pool({ connectionString: db.url, max: 2 }));
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await admin?.end();
    await db?.drop();
  });

  it('admits exactly one of two instances racing on each key, the table created by both at once', async () => {
    const a = store();
    const b = store();
    const racing = keys('race', 100);
    const expiresAt = Math.floor(Date.now() / 1000) + 65;
    const results = await Promise.all(
      racing.map(async (key) => {
        const [x, y] = await Promise.all([a.claim(key, expiresAt), b.claim(key, expiresAt)]);
        return Number(x) + Number(y);
      }),
    );
    expect(results.every((wins) => wins === 1)).toBe(true);
    // Twenty claims of one key, ten from each instance, all in flight together.
    const [hot] = keys('hot', 1);
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).claim(hot!, expiresAt)),
    );
    expect(many.filter(Boolean)).toHaveLength(1);
    expect(await rows()).toBe(101);
  });

  it('lets an expired claim be taken over before it is pruned, once', async () => {
    const [key] = keys('expired', 1);
    const then = store({ now: () => t0 });
    const later = store({ now: () => t0 + 20_000 });
    expect(await then.claim(key!, t0 / 1000 + 10)).toBe(true);
    expect(await then.claim(key!, t0 / 1000 + 10)).toBe(false);
    expect(await later.claim(key!, t0 / 1000 + 85)).toBe(true);
    expect(await later.claim(key!, t0 / 1000 + 85)).toBe(false);
  });

  it('prunes expired rows in bounded batches and leaves live ones', async () => {
    await admin.query(`DELETE FROM ${DPOP_REPLAY_TABLE}`);
    const then = store({ now: () => t0 });
    for (const key of keys('old', 25)) await then.claim(key, t0 / 1000 + 10);
    for (const key of keys('live', 5)) await then.claim(key, t0 / 1000 + 1000);
    const sut = store({ now: () => t0 + 20_000, pruneBatchSize: 10, pruneMaxBatches: 2 });
    expect(await sut.prune()).toBe(20);
    expect(await sut.prune()).toBe(5);
    expect(await sut.prune()).toBe(0);
    expect(await rows()).toBe(5);
    expect(await rows(`expires_at > ${t0 / 1000 + 20}`)).toBe(5);
  });

  it('prunes on its timer', async () => {
    await admin.query(`DELETE FROM ${DPOP_REPLAY_TABLE}`);
    const then = store({ now: () => t0 });
    for (const key of keys('timer', 3)) await then.claim(key, t0 / 1000 + 10);
    store({ now: () => t0 + 20_000, pruneIntervalMs: 50 });
    for (let i = 0; i < 40 && (await rows()) > 0; i++) await sleep(50);
    expect(await rows()).toBe(0);
  });

  it('creates the table again when it was dropped, after failing the claim that found it gone', async () => {
    const sut = store();
    const [key] = keys('dropped', 1);
    await sut.ready();
    await admin.query(`DROP TABLE ${DPOP_REPLAY_TABLE}`);
    await expect(sut.claim(key!, Date.now() / 1000 + 60)).rejects.toBeInstanceOf(ReplayStoreUnavailableError);
    expect(await sut.claim(key!, Date.now() / 1000 + 60)).toBe(true);
  });

  it('fails closed with ReplayStoreUnavailableError when the database cannot answer', async () => {
    const [key] = keys('down', 1);
    const missing = new URL(db.url);
    missing.pathname = '/stepgate_test_does_not_exist';
    const noDatabase = store({ pool: { connectionString: missing.toString() } });
    const err = await noDatabase.claim(key!, Date.now() / 1000 + 60).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayStoreUnavailableError);
    expect((err as ReplayStoreUnavailableError).code).toBe('replay_store_unavailable');
    expect((err as Error).cause).toBeDefined();

    const noServer = store({ pool: { connectionString: 'postgres://postgres@127.0.0.1:1/test' } });
    await expect(noServer.claim(key!, Date.now() / 1000 + 60)).rejects.toBeInstanceOf(
      ReplayStoreUnavailableError,
    );

    const noTable = store({ table: 'stepgate_dpop_jti_absent', createTable: false });
    await expect(noTable.claim(key!, Date.now() / 1000 + 60)).rejects.toBeInstanceOf(
      ReplayStoreUnavailableError,
    );

    const closed = store();
    await closed.close();
    await expect(closed.claim(key!, Date.now() / 1000 + 60)).rejects.toBeInstanceOf(
      ReplayStoreUnavailableError,
    );
  });

  it('leaves a pool it was given open on close', async () => {
    const pool = quiet(new Pool({ connectionString: db.url, max: 1 }));
    const sut = new PostgresReplayStore({ pool, pruneIntervalMs: 0 });
    const [key] = keys('given', 1);
    expect(await sut.claim(key!, Date.now() / 1000 + 60)).toBe(true);
    await sut.close();
    await expect(pool.query('SELECT 1')).resolves.toBeTruthy();
    await pool.end();
  });
});
