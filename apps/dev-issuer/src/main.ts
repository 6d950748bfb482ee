import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { assertDevIssuerAllowed, loadDevIssuerConfig } from './config';
import { loadOrCreateDevIssuerKey } from './dev-issuer.keys';
import { startDevIssuer } from './dev-issuer.server';

async function main(): Promise<void> {
  const runtime = readRuntimeEnv(process.env);
  assertDevIssuerAllowed(runtime.env);
  const config = loadDevIssuerConfig(runtime);
  const server = await startDevIssuer(config, await loadOrCreateDevIssuerKey(runtime.dataDir));
  console.warn(
    `dev issuer ${config.issuer} listening on ${config.http.host}:${server.port} - for development only`,
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void server.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError || err instanceof Error ? err.message : err);
  process.exit(1);
});
