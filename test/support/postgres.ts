// A throwaway PostgreSQL database per test file, on the server TEST_DATABASE_URL names.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { assertTestDatabaseUrl } from '@stepgate/database';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export function postgresAvailable(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL);
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) throw new Error('TEST_DATABASE_URL is not set');
  assertTestDatabaseUrl(admin);
  const name = `stepgate_test_${randomBytes(4).toString('hex')}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** The database backends to run a suite against: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export const databaseBackends = (): ('sqlite' | 'postgres')[] =>
  postgresAvailable() ? ['sqlite', 'postgres'] : ['sqlite'];
