import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { z } from 'zod';

export const devIssuerConfigSchema = z.looseObject({
  devIssuer: z.strictObject({
    http: z.strictObject({ host: z.string().min(1), port: z.coerce.number().int().min(0).max(65535) }),
    /** The issuer identifier (`iss`), and where browsers reach the login page: a URL the user's browser can open. */
    issuer: z.url(),
    /**
     * Where services reach the token endpoint and the key set, when that is not the issuer URL (in compose the
     * browser opens http://localhost:8090 and containers call http://dev-issuer:8090). Empty: the issuer URL.
     */
    backchannelUrl: z.union([z.url(), z.literal('')]).default(''),
    audience: z.string().min(1),
    tokenTtlSeconds: z.number().int().positive().max(86_400),
    /** The `groups` claim of each subject's tokens (e.g. who may use the admin console). */
    groups: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
  }),
});
export type DevIssuerConfig = z.infer<typeof devIssuerConfigSchema>['devIssuer'];

export function loadDevIssuerConfig(runtime: RuntimeEnv): DevIssuerConfig {
  return loadConfig(devIssuerConfigSchema, { file: runtime.configFile, env: runtime.env }).devIssuer;
}

/**
 * The dev issuer mints a token for any name without a password. In production it runs only when someone
 * said so explicitly (STEPGATE_DEV_ISSUER_ENABLED=true), so it cannot be trusted there by accident.
 */
export function assertDevIssuerAllowed(env: Record<string, string | undefined>): void {
  if (env.NODE_ENV === 'production' && env.STEPGATE_DEV_ISSUER_ENABLED !== 'true') {
    throw new Error(
      'the dev issuer signs tokens for anyone and refuses to run with NODE_ENV=production; point ' +
        'gateway.issuers at your identity provider, or set STEPGATE_DEV_ISSUER_ENABLED=true for a demo',
    );
  }
}
