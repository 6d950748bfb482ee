// `npm run -s token -- --sub alice [--acr URN] [--ttl SECONDS] [--sid ID] [--group G ...]`: prints only a
// dev access token. Groups default to the subject's in devIssuer.groups.
import { parseArgs } from 'node:util';
import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { loadDevIssuerConfig } from './config';
import { loadOrCreateDevIssuerKey } from './dev-issuer.keys';
import { signDevToken } from './dev-token';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      acr: { type: 'string' },
      ttl: { type: 'string' },
      sid: { type: 'string' },
      group: { type: 'string', multiple: true },
    },
    strict: true,
  });
  if (!values.sub)
    throw new Error(
      'usage: npm run -s token -- --sub SUBJECT [--acr URN] [--ttl SECONDS] [--sid ID] [--group G ...]',
    );
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0))
    throw new Error('--ttl must be a positive integer');
  const runtime = readRuntimeEnv(process.env);
  const config = loadDevIssuerConfig(runtime);
  const key = await loadOrCreateDevIssuerKey(runtime.dataDir);
  process.stdout.write(
    `${await signDevToken(config, key, {
      sub: values.sub,
      acr: values.acr,
      ttlSeconds: ttl,
      sid: values.sid,
      claims: values.group ? { groups: values.group } : undefined,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err instanceof Error ? err.message : err);
  process.exit(1);
});
