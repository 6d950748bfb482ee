// Starts the challenge service on its own. `--check-config` validates the configuration and exits.
import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { createChallengeApp } from './challenge.bootstrap';
import { loadChallengeConfig } from './config';

async function main(): Promise<void> {
  const runtime = readRuntimeEnv(process.env);
  if (process.argv.includes('--check-config')) {
    loadChallengeConfig(runtime);
    console.log(`challenge: ${runtime.configFile} is valid`);
    return;
  }
  const app = await createChallengeApp(runtime);
  app.enableShutdownHooks();
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
