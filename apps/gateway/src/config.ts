// The gateway's configuration: its own `gateway` section and the `policy` it enforces.
import { ConfigError, loadConfig, type RuntimeEnv } from '@stepgate/config';
import { consumerSettingsFields } from '@stepgate/kafka';
import { routePolicyIssues, routePolicySection } from '@stepgate/policy';
import { isIP } from 'node:net';
import { z } from 'zod';
import { HEADER_PATTERN, isSpoofable } from './proxy/forward-headers';

const port = z.coerce.number().int().min(0).max(65535);
const httpUrl = z.url({ protocol: /^https?$/ });
const cidr = z.string().refine(isCidr, 'an IPv4 or IPv6 address or CIDR block');
// A prefix needs at least one character before its `*`.
const headerPattern = z
  .string()
  .regex(HEADER_PATTERN, 'a header name (RFC 9110 token), or a prefix ending in *');

const upstream = z
  .strictObject({
    url: httpUrl,
    timeoutMs: z.number().int().positive().default(30_000),
    /** `aud` of the identity assertion this upstream receives; default the upstream's name. */
    audience: z.string().min(1).optional(),
    /**
     * Pass the client's own bearer token on. Off by default: the upstream learns who passed from the
     * signed assertion, and a token it never sees is a token it cannot leak or replay.
     */
    passAuthorization: z.boolean().default(false),
    /** Client headers removed for this upstream on top of the gateway's table (names, or prefixes ending in *). */
    stripHeaders: z.array(headerPattern).optional(),
    /**
     * Which client headers reach this upstream: `denylist` (default) all but the stripped ones; `allowlist`
     * only those in `allow`, plus the content, caching and WebSocket headers HTTP needs and what the
     * gateway sets itself.
     */
    forwardHeaders: z
      .discriminatedUnion('mode', [
        z.strictObject({ mode: z.literal('denylist') }),
        z.strictObject({ mode: z.literal('allowlist'), allow: z.array(headerPattern) }),
      ])
      .optional(),
  })
  .superRefine((u, ctx) => {
    // An allowed header the gateway always removes would silently never arrive: say so at start.
    if (u.forwardHeaders?.mode !== 'allowlist') return;
    u.forwardHeaders.allow.forEach((h, i) => {
      const name = h.replace(/\*$/, '');
      if (isSpoofable(name))
        ctx.addIssue({
          code: 'custom',
          path: ['forwardHeaders', 'allow', i],
          message: `${h} is always removed by the gateway (see docs/UPSTREAMS.md)`,
        });
      else if (/^(authorization|dpop)$/i.test(name))
        ctx.addIssue({
          code: 'custom',
          path: ['forwardHeaders', 'allow', i],
          message: `${h} is governed by passAuthorization`,
        });
    });
  });

export type UpstreamConfig = z.infer<typeof upstream>;

export const gatewaySection = z.strictObject({
  listen: z.strictObject({ host: z.string().min(1), port }),
  issuers: z
    .array(
      z.strictObject({
        issuer: z.string().min(1),
        jwksUri: httpUrl,
        audience: z.string().min(1),
        algorithms: z.array(z.enum(['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'])).min(1),
        /** The exact `typ` header this issuer's access tokens carry (e.g. at+jwt); unset accepts any access-token type. */
        typ: z.string().min(1).optional(),
        jwksCooldownSeconds: z.number().int().min(0).max(3600).default(30),
      }),
    )
    .min(1),
  /** Browser sign-in (OIDC authorization code + PKCE). Absent: browsers cannot sign in through the gateway. */
  signIn: z
    .strictObject({
      /** The provider's issuer URL; its discovery document is read at start. */
      issuer: httpUrl,
      /**
       * Where the gateway reads the provider's metadata when the issuer URL is one only browsers reach (the
       * dev issuer in compose); the metadata's `issuer` must still equal `issuer`. Empty: discovered from it.
       */
      discoveryUrl: z
        .union([
          httpUrl.refine((u) => u.includes('/.well-known/'), {
            message: 'must be the metadata document itself (…/.well-known/openid-configuration)',
          }),
          z.literal(''),
        ])
        .default(''),
      clientId: z.string().min(1),
      /** Empty: a public client (PKCE only). Comes from the environment. */
      clientSecret: z.string().default(''),
      scopes: z.array(z.string().min(1)).default(['openid']),
      /** The gateway's external origin for the redirect URI; empty: taken from the request's Host. */
      publicUrl: z.union([httpUrl, z.literal('')]).default(''),
      session: z
        .strictObject({
          idleTimeoutSeconds: z.number().int().positive().default(1800),
          absoluteTimeoutSeconds: z.number().int().positive().default(43_200),
        })
        .default({ idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 43_200 }),
    })
    .optional(),
  /** Peers allowed to say who the client is through X-Forwarded-For (also STEPGATE_TRUSTED_PROXIES). */
  trustedProxies: z.array(cidr).default([]),
  /** The signed identity assertion every forwarded request carries (X-StepGate-Assertion). */
  assertion: z
    .strictObject({
      issuer: z.string().min(1),
      ttlSeconds: z.number().int().min(5).max(60).default(60),
      /** How long one signed assertion is reused for the same token, route and risk (0: sign every request). */
      reuseSeconds: z.number().int().min(0).max(30).default(10),
    })
    .default({ issuer: 'urn:stepgate:gateway', ttlSeconds: 60, reuseSeconds: 10 }),
  /** One JSON line per request (method, route, decision, status, latency, correlation id). */
  accessLog: z.boolean().default(true),
  /** The challenge service: where /.stepgate/factors|challenges go, and whose stepped-up tokens are accepted. */
  challenge: z.strictObject({
    url: httpUrl,
    jwksUri: httpUrl,
    issuer: z.string().min(1),
    audience: z.string().min(1),
  }),
  upstreams: z.record(z.string(), upstream),
  risk: z.strictObject({
    timeoutMs: z.number().int().positive().max(10_000),
    cacheTtlSeconds: z.number().int().min(0).max(3600),
    /**
     * Risk's private HTTP port (STEPGATE_RISK_URL): assessments are asked there directly, authenticated with
     * a service token (adr/0016-direct-risk-path). Empty: over the bus (Kafka request/reply, or in process
     * when embedded).
     */
    url: z.union([httpUrl, z.literal('')]).default(''),
    /** Keep-alive connections to risk on the direct path (one request at a time on each: no pipelining). */
    connections: z.coerce.number().int().min(1).max(1024).default(32),
    /**
     * How long a context risk did not answer is not asked again (its requests get the route's
     * onRiskUnavailable at once), so a timeout storm does not pile up on risk. 0: always ask.
     */
    negativeCacheMs: z.coerce.number().int().min(0).max(10_000).default(1000),
  }),
  /**
   * Access events that Kafka has not taken (past the memory buffer, or refused after the producer's retries)
   * wait in a bounded spill file under STEPGATE_DATA_DIR/access-spill/ and are published, in order, when it
   * takes them again (docs/OPERATIONS.md, "The access-event spill file").
   */
  accessEvents: z
    .strictObject({
      /** Events held in memory (waiting, or sent and unacknowledged) before new ones go to the spill file. */
      memoryEvents: z.coerce.number().int().min(1).default(20_000),
      spill: z
        .strictObject({
          /** Bound on unpublished bytes in the spill file; past it new events are dropped (counted). 0: no spill file. */
          maxBytes: z.coerce
            .number()
            .int()
            .min(0)
            .default(256 * 1024 * 1024),
          /** Size at which a new segment file starts; published segments are deleted whole. */
          segmentBytes: z
            .number()
            .int()
            .min(64 * 1024)
            .max(1024 * 1024 * 1024)
            .default(16 * 1024 * 1024),
          /** fdatasync at most this often (0: after every write): what a power loss may cost, not a crash. */
          fsyncIntervalMs: z.number().int().min(0).max(60_000).default(1000),
        })
        .default({ maxBytes: 256 * 1024 * 1024, segmentBytes: 16 * 1024 * 1024, fsyncIntervalMs: 1000 }),
      /** At shutdown, how long the last events may wait for Kafka before the rest goes to the spill file. */
      shutdownFlushMs: z.number().int().min(0).max(60_000).default(5000),
    })
    .default({
      memoryEvents: 20_000,
      spill: { maxBytes: 256 * 1024 * 1024, segmentBytes: 16 * 1024 * 1024, fsyncIntervalMs: 1000 },
      shutdownFlushMs: 5000,
    }),
  /** DPoP (RFC 9449): API clients that prove a key on every request; the key is their device. */
  dpop: z
    .strictObject({
      /** Proof signature algorithms accepted (asymmetric only). */
      algorithms: z
        .array(z.enum(['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256']))
        .min(1)
        .default(['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256']),
      /** How old a proof's `iat` may be; its `jti` is remembered (single use) for as long. */
      proofMaxAgeSeconds: z.number().int().min(5).max(300).default(60),
      /** Demand a server nonce (`DPoP-Nonce`) in every proof: limits a proof's life to about a minute even with a skewed client clock. */
      nonce: z.boolean().default(false),
      /**
       * Where proof `jti`s are remembered, so each is used once across every gateway instance: `postgres`
       * (DATABASE_URL; needed with more than one instance), `memory` (one instance), `auto` (postgres when
       * DATABASE_URL is set).
       */
      replay: z.enum(['auto', 'memory', 'postgres']).default('auto'),
      /** Bound of the memory store: full of live entries, new proofs are refused (503), never a jti forgotten. */
      replayMaxEntries: z.number().int().min(1000).default(200_000),
    })
    .default({
      algorithms: ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'],
      proofMaxAgeSeconds: 60,
      nonce: false,
      replay: 'auto',
      replayMaxEntries: 200_000,
    }),
  /** The bus consumer: handler failures (redelivery, then dead letter) and health bounds (libs/kafka). */
  kafka: z.strictObject(consumerSettingsFields).optional(),
  clockSkewSeconds: z.number().int().min(0).max(300),
  maxHeaderBytes: z.number().int().positive().default(16_384),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
});

/** The gateway's view of the file: its sections strictly, plus the rules across them; other sections pass. */
export const gatewayConfigSchema = z
  .looseObject({ gateway: gatewaySection, policy: routePolicySection })
  .superRefine((c, ctx) => {
    for (const issue of routePolicyIssues(c.policy, Object.keys(c.gateway.upstreams)))
      ctx.addIssue({ code: 'custom', path: ['policy', ...issue.path], message: issue.message });
  });

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type { ClaimValue, RouteDecision, RoutePolicy } from '@stepgate/policy';

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export function isCidr(value: string): boolean {
  const [addr, bits, ...rest] = value.trim().split('/');
  if (rest.length > 0 || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

export function loadGatewayConfig(runtime: RuntimeEnv): GatewayConfig {
  const config = loadConfig(gatewayConfigSchema, { file: runtime.configFile, env: runtime.env });
  const fromEnv = (runtime.env.STEPGATE_TRUSTED_PROXIES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = fromEnv.filter((c) => !isCidr(c));
  if (bad.length > 0)
    throw new ConfigError('STEPGATE_TRUSTED_PROXIES', [`not an IP address or CIDR block: ${bad.join(', ')}`]);
  config.gateway.trustedProxies = [...config.gateway.trustedProxies, ...fromEnv];
  return config;
}
