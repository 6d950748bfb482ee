// Risk's tunables (`risk:` less its start-only parts): the half of a policy version that scoring and
// retention read, changed while risk runs. The section's start-only parts (ports, Kafka, the admin API, the
// file watch) belong to the process that reads them and are not known here, so the policy's vocabulary
// can be used by any app without importing risk. Pure zod, no Nest.
import { createHash } from 'node:crypto';
import { CidrList, parseCidr } from '@stepgate/net';
import { FEATURES, SIGNAL_NAMES, type Feature, type ScoringSettings } from '@stepgate/risk-scoring';
import { z } from 'zod';
import { stableJson } from './stable-json';

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

/** What of the risk section is policy: versioned, published and applied live. */
export const riskTunablesSchema = z.strictObject({
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
});
export type RiskTunables = z.infer<typeof riskTunablesSchema>;

/**
 * The tunables alone, as a policy document carries them, from a whole risk section (whatever start-only
 * parts its reader adds to it).
 */
export function tunablesOf<S extends RiskTunables>(section: S): RiskTunables {
  const present = Object.keys(riskTunablesSchema.shape).filter((key) => Object.hasOwn(section, key));
  return Object.fromEntries(present.map((key) => [key, section[key as keyof RiskTunables]])) as RiskTunables;
}

export function scoringSettingsOf(tunables: RiskTunables): ScoringSettings {
  return {
    weights: tunables.weights,
    thresholds: tunables.thresholds,
    model: tunables.model,
    failureWindowSeconds: tunables.failureWindowSeconds,
    travel: tunables.travel,
    velocity: tunables.velocity,
    lists: {
      badIps: new CidrList(tunables.lists.badIps),
      trustedNetworks: new CidrList(tunables.lists.trustedNetworks),
    },
    monitor: new Set(tunables.monitor),
  };
}

/**
 * A short hash of what scoring and retention depend on: names the tunables in the model version risk stamps
 * on every assessment (`cfg-<hash>`) and a backtest labels its sides with. `section`: the tunables, or a
 * whole risk section (its start-only parts never change the hash).
 */
export function policyVersionOf<S extends RiskTunables>(section: S): string {
  const { monitor, ...rest } = tunablesOf(section);
  // An empty monitor list leaves the hash as it was before monitor mode existed.
  const policy = monitor.length > 0 ? { ...rest, monitor } : rest;
  return createHash('sha256').update(stableJson(policy)).digest('hex').slice(0, 8);
}
