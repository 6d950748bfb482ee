// The gateway's configuration: its own `gateway` section and the `policy` it enforces.
import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { RISK_LEVELS } from '@stepgate/contracts';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const httpUrl = z.url({ protocol: /^https?$/ });
const decision = z.enum(['allow', 'step_up', 'deny']);

const route = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, dot, dash, underscore'),
    /** Glob over the canonical path: `*` one segment, `**` any number of segments. */
    path: z.string().startsWith('/'),
    methods: z.array(z.string().toUpperCase()).optional(),
    host: z.string().optional(),
    upstream: z.string(),
    decisions: z.strictObject(
      Object.fromEntries(RISK_LEVELS.map((l) => [l, decision])) as Record<
        (typeof RISK_LEVELS)[number],
        typeof decision
      >,
    ),
    stepUp: z.strictObject({ acr: z.string(), maxAgeSeconds: z.number().int().positive() }).optional(),
    onRiskUnavailable: z.enum(['allow', 'step_up', 'deny']).default('deny'),
  })
  .refine((r) => r.stepUp || !Object.values(r.decisions).includes('step_up'), {
    message: 'a route that can step up needs stepUp { acr, maxAgeSeconds }',
    path: ['stepUp'],
  });

export const gatewaySection = z.strictObject({
  listen: z.strictObject({ host: z.string().min(1), port }),
  issuers: z
    .array(
      z.strictObject({
        issuer: z.string().min(1),
        jwksUri: httpUrl,
        audience: z.string().min(1),
        algorithms: z.array(z.enum(['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'])).min(1),
      }),
    )
    .min(1),
  /** The challenge service: where /.stepgate/factors|challenges go, and whose stepped-up tokens are accepted. */
  challenge: z.strictObject({
    url: httpUrl,
    jwksUri: httpUrl,
    issuer: z.string().min(1),
    audience: z.string().min(1),
  }),
  upstreams: z.record(
    z.string(),
    z.strictObject({ url: httpUrl, timeoutMs: z.number().int().positive().default(30_000) }),
  ),
  risk: z.strictObject({
    timeoutMs: z.number().int().positive().max(10_000),
    cacheTtlSeconds: z.number().int().min(0).max(3600),
  }),
  clockSkewSeconds: z.number().int().min(0).max(300),
  maxHeaderBytes: z.number().int().positive().default(16_384),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
});

export const policySection = z.strictObject({
  acr: z.strictObject({ levels: z.array(z.string().min(1)).min(1) }),
  routes: z.array(route),
});

const schema = z.looseObject({ gateway: gatewaySection, policy: policySection }).superRefine((c, ctx) => {
  c.policy.routes.forEach((r, i) => {
    if (!(r.upstream in c.gateway.upstreams)) {
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'routes', i, 'upstream'],
        message: `unknown upstream "${r.upstream}"`,
      });
    }
    if (r.stepUp && !c.policy.acr.levels.includes(r.stepUp.acr)) {
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'routes', i, 'stepUp', 'acr'],
        message: `"${r.stepUp.acr}" is not in policy.acr.levels`,
      });
    }
  });
  const ids = c.policy.routes.map((r) => r.id);
  ids.forEach((id, i) => {
    if (ids.indexOf(id) !== i)
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'routes', i, 'id'],
        message: `duplicate route id "${id}"`,
      });
  });
});

export type GatewayConfig = z.infer<typeof schema>;
export type RoutePolicy = GatewayConfig['policy']['routes'][number];
export type RouteDecision = z.infer<typeof decision>;

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export function loadGatewayConfig(runtime: RuntimeEnv): GatewayConfig {
  return loadConfig(schema, { file: runtime.configFile, env: runtime.env });
}
