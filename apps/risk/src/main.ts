// `npm run start:risk`: the risk service on its own, over Kafka (KAFKA_BROKERS) or the in-process bus.
// `--check-config` validates the risk section and exits.
import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { loadRiskConfig } from './config';
import { createRiskApp } from './risk.bootstrap';

async function main(): Promise<void> {
  const runtime = readRuntimeEnv(process.env);
  const config = loadRiskConfig(runtime);
  if (process.argv.includes('--check-config')) {
    console.log(`${runtime.configFile}: risk section valid`);
    return;
  }
  const app = await createRiskApp(runtime, undefined, config);
  // SIGTERM closes the app: the consumer leaves its group at once, so a replacement gets the partitions.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
