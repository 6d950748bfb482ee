// Entry point for the TypeORM CLI, e.g. `npx typeorm migration:show -d dist/apps/risk/src/database/data-source.cli.js`.
import { readRuntimeEnv } from '@stepgate/config';
import { DataSource } from 'typeorm';
import { riskDataSourceOptions } from './risk.data-source';

export default new DataSource({
  ...riskDataSourceOptions(readRuntimeEnv(process.env)),
  migrationsRun: false,
});
