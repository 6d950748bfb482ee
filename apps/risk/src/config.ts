// The risk service's own slice of config/stepgate.yaml, validated strictly; other sections pass through.
import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { z } from 'zod';
import type { ScoringPolicy } from './scoring/scoring.types';

/** Ports arrive as strings after ${ENV} interpolation; '' must be an error, not port 0. */
const port = z.preprocess(
  (v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v),
  z.int({ error: 'must be a port number' }).min(0).max(65535),
);

/** Integer weights keep scores integral, so they store and compare exactly on every database. */
const weight = z.int().min(0).max(100);

const riskSection = z.strictObject({
  http: z.strictObject({ host: z.string().min(1), port }),
  thresholds: z
    .strictObject({ medium: weight.min(1), high: weight.min(1), critical: weight.min(1) })
    .refine((t) => t.medium < t.high && t.high < t.critical, 'must increase: medium < high < critical'),
  weights: z.strictObject({
    newDevice: weight,
    unconfirmedDevice: weight,
    newNetwork: weight,
    newCountry: weight,
    failedChallenge: weight,
    failedChallengeMax: weight,
  }),
  failureWindowSeconds: z.int().positive(),
  kafka: z
    .strictObject({
      /**
       * Consumer group shared by every risk instance. A new group starts from the oldest retained event, so a
       * risk with a fresh database can be rebuilt from the topics under a new group id.
       */
      groupId: z.string().min(1).max(249).optional(),
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Assessments kept per subject for the admin view; older ones are pruned as new ones are written. */
      assessmentsPerSubject: z.int().positive().max(10_000).default(100),
    })
    .prefault({}),
});

export const riskConfigSchema = z.looseObject({ risk: riskSection });

export type RiskConfig = z.infer<typeof riskSection>;

/** DI token of the validated config. */
export const RISK_CONFIG = Symbol('RISK_CONFIG');

/** Reads and validates the risk section; throws ConfigError listing every problem. */
export function loadRiskConfig(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): RiskConfig {
  return loadConfig(riskConfigSchema, { file: runtime.configFile, env: runtime.env }).risk;
}

export function scoringPolicyOf(config: RiskConfig): ScoringPolicy {
  return {
    weights: config.weights,
    thresholds: config.thresholds,
    failureWindowSeconds: config.failureWindowSeconds,
  };
}
