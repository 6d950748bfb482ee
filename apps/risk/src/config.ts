// The risk service's own slice of config/stepgate.yaml, validated strictly; other sections pass through.
// Everything under weights, model, thresholds, windows, lists and retention can change while risk runs
// (policy/risk-policy.service.ts watches the file); http and kafka are read at start only.
import { createHash } from 'node:crypto';
import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { RISK_LEVELS, type RiskLevel } from '@stepgate/contracts';
import { consumerSettingsFields } from '@stepgate/kafka';
import { z } from 'zod';
import { CidrList, parseCidr } from '@stepgate/net';
import { FEATURES, SIGNAL_NAMES, type Feature, type ScoringPolicy } from '@stepgate/risk-scoring';

/** Ports arrive as strings after ${ENV} interpolation; '' must be an error, not port 0. */
const port = z.preprocess(
  (v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v),
  z.int({ error: 'must be a port number' }).min(0).max(65535),
);

/** Integer weights keep scores integral, so they store and compare exactly on every database. */
const weight = z.int().min(0).max(100);
const seconds = z
  .int()
  .positive()
  .max(30 * 86_400);
const cidr = z.string().refine((v) => parseCidr(v) !== null, 'must be an IP address or CIDR range');
const featureWeights = z.strictObject(
  Object.fromEntries(FEATURES.map((f) => [f, z.number().min(0).max(10)])) as Record<Feature, z.ZodNumber>,
);

const riskSection = z.strictObject({
  http: z.strictObject({ host: z.string().min(1), port }),
  /** Who may change the policy through the admin API (read at start). */
  admin: z.strictObject({
    /**
     * The gateway's X-StepGate-Assertion on requests it forwarded to the admin upstream: risk verifies it
     * against the gateway's keys before it records a change, and names its subject as the author.
     */
    assertion: z.strictObject({
      jwksUri: z.url({ protocol: /^https?$/ }),
      issuer: z.string().min(1),
      /** The admin upstream's assertion audience (its name, `stepgate-admin`, unless configured). */
      audience: z.string().min(1),
    }),
    /** The assertion's acr must be this one or stronger (by policy.acr.levels) to change the policy. */
    changeAcr: z.string().min(1),
    /**
     * The gateway upstream that publishes this API. A change must come through a route to it, and a change
     * through the API cannot weaken those routes (group, step-up, enforce): the API cannot open itself.
     */
    upstream: z.string().min(1).default('stepgate-admin'),
  }),
  thresholds: z
    .strictObject({ medium: weight.min(1), high: weight.min(1), critical: weight.min(1) })
    .refine((t) => t.medium < t.high && t.high < t.critical, 'must increase: medium < high < critical'),
  /** Points each rule signal adds when it fires (0 disables it). */
  weights: z.strictObject({
    newDevice: weight,
    unconfirmedDevice: weight,
    deviceContextChanged: weight,
    failedChallenge: weight,
    failedChallengeMax: weight,
    lockout: weight,
    badIp: weight,
    trustedNetwork: z.int().min(-100).max(0),
    impossibleTravel: weight,
    velocityRequests: weight,
    velocityIps: weight,
    velocityDevices: weight,
  }),
  model: z.strictObject({
    pointsPerBit: z.number().min(0).max(50),
    smoothing: z.number().positive().max(1000),
    maxBits: z.number().min(0).max(64),
    minBits: z.number().min(-64).max(0),
    features: featureWeights,
    coldStart: z.strictObject({
      history: z.int().min(0).max(10_000),
      rareShare: z.number().min(0).max(1),
      points: weight,
      minPopulation: z.int().min(0),
      features: z.array(z.enum(FEATURES)),
    }),
  }),
  failureWindowSeconds: seconds,
  travel: z.strictObject({ maxSpeedKmh: z.number().positive(), minDistanceKm: z.number().min(0) }),
  velocity: z.strictObject({
    requests: z.strictObject({ windowSeconds: seconds, max: z.int().positive() }),
    ips: z.strictObject({ windowSeconds: seconds, max: z.int().positive() }),
    devices: z.strictObject({ windowSeconds: seconds, max: z.int().positive() }),
  }),
  lists: z
    .strictObject({
      badIps: z.array(cidr).default([]),
      trustedNetworks: z.array(cidr).default([]),
    })
    .prefault({}),
  /**
   * Signals in monitor mode: computed and explained (published at weight 0, `monitor: would add N points`),
   * counted in stepgate_risk_monitored_signals_total, but adding nothing to the score.
   */
  monitor: z
    .array(
      z.enum(SIGNAL_NAMES as [string, ...string[]], {
        error: `must be a signal: ${SIGNAL_NAMES.join(', ')}`,
      }),
    )
    .default([]),
  kafka: z
    .strictObject({
      /**
       * Consumer group shared by every risk instance. A new group starts from the oldest retained event, so a
       * risk with a fresh database can be rebuilt from the topics under a new group id.
       */
      groupId: z.string().min(1).max(249).optional(),
      /** Handler failures (redelivery, then dead letter) and health bounds of the consumer (libs/kafka). */
      ...consumerSettingsFields,
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Assessments kept per subject for the admin view; older ones are pruned as new ones are written. */
      assessmentsPerSubject: z.int().positive().max(10_000).default(100),
      /** Values kept per feature per subject (the least recently seen go first). */
      valuesPerFeature: z.int().positive().max(10_000).default(50),
      /**
       * How long a consumed message id is remembered (its redelivery is ignored). Keep it longer than the
       * topics' retention, or a rebuilt consumer group could apply an old event twice.
       */
      processedMessagesDays: z.int().positive().max(3650).default(14),
      /** Challenge results kept per subject (only the failure window counts for scoring). */
      challengeDays: z.int().positive().max(3650).default(30),
    })
    .prefault({}),
  reload: z
    .strictObject({
      /** Watch the config file and apply changes to the policy without a restart. */
      watch: z.boolean().default(true),
      debounceMs: z.int().min(0).max(60_000).default(250),
    })
    .prefault({}),
});

export const riskConfigSchema = z.looseObject({ risk: riskSection });

/** What of the risk section is policy: versioned, published and applied live (everything but start-only parts). */
export const riskTunablesSchema = riskSection.omit({ http: true, admin: true, kafka: true, reload: true });
export type RiskTunables = z.infer<typeof riskTunablesSchema>;

/** The risk section's tunables alone, as a policy document carries them. */
export function tunablesOf(config: RiskConfig): RiskTunables {
  const { http: _http, admin: _admin, kafka: _kafka, reload: _reload, ...tunables } = config;
  return tunables;
}

/** The risk section's schema, for candidates (backtesting) merged over the policy in force. */
export const riskSectionSchema = riskSection;

const routeDecision = z.enum(['allow', 'step_up', 'deny']);

/**
 * Risk's own loose view of `policy.routes`: what a route asks for at each level (for backtesting) and what a
 * step-up must prove (for deciding what a stepped-up access teaches). Only the fields risk reads, anything
 * else passes; strict validation of the section is the gateway's.
 */
export const routeViewSchema = z.looseObject({
  id: z.string().min(1),
  decisions: z.strictObject({
    low: routeDecision,
    medium: routeDecision,
    high: routeDecision,
    critical: routeDecision,
  }),
  onRiskUnavailable: routeDecision.default('deny'),
  mode: z.enum(['enforce', 'monitor']).default('enforce'),
  stepUp: z
    .looseObject({
      acr: z.string(),
      maxAgeSeconds: z.number(),
      acrByLevel: z.partialRecord(z.enum(RISK_LEVELS), z.string()).optional(),
    })
    .optional(),
});
export interface RouteView extends Pick<
  z.infer<typeof routeViewSchema>,
  'id' | 'decisions' | 'onRiskUnavailable' | 'mode'
> {
  stepUp?: { acr: string; maxAgeSeconds: number; acrByLevel?: Partial<Record<RiskLevel, string>> };
}

/** The routes and the ordered acr levels (weakest first; empty when the section names none). */
export interface RoutesView {
  routes: RouteView[];
  acrLevels: string[];
}

export const acrLevelsSchema = z
  .looseObject({ levels: z.array(z.string()).default([]) })
  .optional()
  .transform((acr) => acr?.levels ?? []);

const routesViewConfig = z.looseObject({
  policy: z.looseObject({ routes: z.array(routeViewSchema).default([]), acr: acrLevelsSchema }).prefault({}),
});

/** The routes and acr levels from the config file (loosely: the gateway validates the section strictly). */
export function loadRoutesView(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): RoutesView {
  const { policy } = loadConfig(routesViewConfig, { file: runtime.configFile, env: runtime.env });
  return { routes: policy.routes.map(routeViewOf), acrLevels: policy.acr };
}

/** The routes' decisions from the config file. */
export function loadRouteViews(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): RouteView[] {
  return loadRoutesView(runtime).routes;
}

export function routeViewOf(r: z.infer<typeof routeViewSchema>): RouteView {
  const view: RouteView = {
    id: r.id,
    decisions: r.decisions,
    onRiskUnavailable: r.onRiskUnavailable,
    mode: r.mode,
  };
  if (r.stepUp) {
    const { acr, maxAgeSeconds, acrByLevel } = r.stepUp;
    view.stepUp = acrByLevel ? { acr, maxAgeSeconds, acrByLevel } : { acr, maxAgeSeconds };
  }
  return view;
}

export type RiskConfig = z.infer<typeof riskSection>;

/** DI token of the config risk started with (http, kafka); the live policy comes from RiskPolicy. */
export const RISK_CONFIG = Symbol('RISK_CONFIG');

/** Reads and validates the risk section; throws ConfigError listing every problem. */
export function loadRiskConfig(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): RiskConfig {
  return loadConfig(riskConfigSchema, { file: runtime.configFile, env: runtime.env }).risk;
}

export function scoringPolicyOf(config: RiskConfig): ScoringPolicy {
  return {
    weights: config.weights,
    thresholds: config.thresholds,
    model: config.model,
    failureWindowSeconds: config.failureWindowSeconds,
    travel: config.travel,
    velocity: config.velocity,
    lists: {
      badIps: new CidrList(config.lists.badIps),
      trustedNetworks: new CidrList(config.lists.trustedNetworks),
    },
    monitor: new Set(config.monitor),
  };
}

/** A short hash of what scoring and retention depend on: names the config in the model version. */
export function policyVersionOf(config: RiskConfig): string {
  const { monitor, ...rest } = tunablesOf(config);
  // An empty monitor list leaves the hash as it was before monitor mode existed.
  const policy = monitor.length > 0 ? { ...rest, monitor } : rest;
  return createHash('sha256').update(stableJson(policy)).digest('hex').slice(0, 8);
}

/** JSON with object keys sorted: equal values, equal text (for hashes). */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
