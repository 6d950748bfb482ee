// `npm run -s token -- --sub alice [--acr URN] [--ttl SECONDS] [--sid ID] [--group G ...] [--dpop-jkt JKT]`:
// prints only a dev access token (see TOKEN_USAGE). Groups default to the subject's in devIssuer.groups.
import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { loadDevIssuerConfig } from './config';
import { loadOrCreateDevIssuerKey } from './dev-issuer.keys';
import { signDevToken } from './dev-token';
import { parseTokenArgs } from './token-args';

async function main(): Promise<void> {
  const request = parseTokenArgs(process.argv.slice(2));
  const runtime = readRuntimeEnv(process.env);
  const config = loadDevIssuerConfig(runtime);
  const key = await loadOrCreateDevIssuerKey(runtime.dataDir);
  process.stdout.write(`${await signDevToken(config, key, request)}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err instanceof Error ? err.message : err);
  process.exit(1);
});
