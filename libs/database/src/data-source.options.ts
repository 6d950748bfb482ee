// One DataSource definition per service, shared by the app and the migration CLI: SQLite under the data
// directory by default, PostgreSQL when DATABASE_URL is set. Migrations, never synchronize.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSourceOptions, MixedList, EntitySchema } from 'typeorm';

export interface DatabaseSettings {
  /** Service name: names the SQLite file and the migrations table. */
  service: string;
  databaseUrl: string | undefined;
  dataDir: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
}

export function dataSourceOptions(s: DatabaseSettings): DataSourceOptions {
  const common = {
    entities: s.entities,
    migrations: s.migrations,
    migrationsTableName: `${s.service}_migrations`,
    migrationsRun: true,
    synchronize: false,
    logging: ['error', 'warn'] as ('error' | 'warn')[],
  };
  if (s.databaseUrl) {
    return {
      ...common,
      type: 'postgres',
      url: s.databaseUrl,
      poolSize: 10,
      migrationsTransactionMode: 'each',
    };
  }
  mkdirSync(s.dataDir, { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: join(s.dataDir, `${s.service}.sqlite`),
    // WAL lets readers run beside the writer; busy_timeout covers two processes on one file.
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
    },
  };
}

/** Tests refuse to touch a database whose name does not say test. */
export function assertTestDatabaseUrl(url: string): void {
  const name = new URL(url).pathname.replace(/^\//, '');
  if (!/test/i.test(name))
    throw new Error(`refusing to run tests against database "${name}": its name must contain "test"`);
}
