import { readRuntimeEnv, ConfigError } from '@stepgate/config';
import { createLogger } from '@stepgate/observability';
import { createGatewayApp } from './gateway.bootstrap';

async function main(): Promise<void> {
  const runtime = readRuntimeEnv(process.env);
  const app = await createGatewayApp(runtime, createLogger('gateway', process.env));
  app.enableShutdownHooks();
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
