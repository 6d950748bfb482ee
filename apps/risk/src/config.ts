// The risk service's own slice of config/stepgate.yaml, validated strictly; other sections pass through.
// The tunables (weights, model, thresholds, windows, lists, monitor, retention) are policy and come from
// libs/policy: they change while risk runs (policy/risk-policy.service.ts follows the policy versions).
// http, admin, kafka and reload are this process's own, read at start only.
import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { consumerSettingsFields } from '@stepgate/kafka';
import { riskTunablesSchema } from '@stepgate/policy';
import { z } from 'zod';

/** Ports arrive as strings after ${ENV} interpolation; '' must be an error, not port 0. */
const port = z.preprocess(
  (v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v),
  z.int({ error: 'must be a port number' }).min(0).max(65535),
);

// Retention stays after kafka, where it has always been: the section's key order is the order of
// config/stepgate.schema.json (generated from it) and of the problems a bad section reports.
const { retention, ...tunables } = riskTunablesSchema.shape;

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
  ...tunables,
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
  retention,
  reload: z
    .strictObject({
      /** Watch the config file and apply changes to the policy without a restart. */
      watch: z.boolean().default(true),
      debounceMs: z.int().min(0).max(60_000).default(250),
    })
    .prefault({}),
});

export const riskConfigSchema = z.looseObject({ risk: riskSection });

/**
 * The risk section's schema: for candidates (backtesting) merged over the policy in force, and for the
 * config file's policy document (loadFileDocument), whose section must validate as it would at start.
 */
export const riskSectionSchema = riskSection;

export type RiskConfig = z.infer<typeof riskSection>;

/** DI token of the config risk started with (http, kafka); the live policy comes from RiskPolicyService. */
export const RISK_CONFIG = Symbol('RISK_CONFIG');

/** Reads and validates the risk section; throws ConfigError listing every problem. */
export function loadRiskConfig(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): RiskConfig {
  return loadConfig(riskConfigSchema, { file: runtime.configFile, env: runtime.env }).risk;
}
