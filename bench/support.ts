// What the benchmarks share: medians with min-max, and throwaway PostgreSQL databases.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Median (the mean of the middle two for an even count), min and max. */
export function stat(values: readonly number[]): { median: number; min: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return { median: s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2, min: s[0]!, max: s.at(-1)! };
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** A database named `stepgate_bench_<random>` on the server, and how to drop it (whoever is connected). */
export async function throwawayPostgres(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `stepgate_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Runs `work` on a throwaway database, dropped afterwards. */
export async function withThrowawayPostgres<T>(
  serverUrl: string,
  work: (url: string) => Promise<T>,
): Promise<T> {
  const db = await throwawayPostgres(serverUrl);
  try {
    return await work(db.url);
  } finally {
    await db.drop();
  }
}
