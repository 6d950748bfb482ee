import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { z } from 'zod';

const schema = z.looseObject({
  devIssuer: z.strictObject({
    http: z.strictObject({ host: z.string().min(1), port: z.coerce.number().int().min(0).max(65535) }),
    issuer: z.url(),
    audience: z.string().min(1),
    tokenTtlSeconds: z.number().int().positive().max(86_400),
  }),
});
export type DevIssuerConfig = z.infer<typeof schema>['devIssuer'];

export function loadDevIssuerConfig(runtime: RuntimeEnv): DevIssuerConfig {
  return loadConfig(schema, { file: runtime.configFile, env: runtime.env }).devIssuer;
}
