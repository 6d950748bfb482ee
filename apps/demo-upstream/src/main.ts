import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { loadDemoUpstreamConfig } from './config';
import { startDemoUpstream } from './demo-upstream.server';

async function main(): Promise<void> {
  const config = loadDemoUpstreamConfig(readRuntimeEnv(process.env));
  const { server, port } = await startDemoUpstream(config.http.host, config.http.port);
  console.log(`demo upstream listening on ${config.http.host}:${port}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
