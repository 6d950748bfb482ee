// A candidate policy for a backtest: any part of the config file's `risk:` and `policy.routes` sections,
// merged over the policy in force and validated as the service would validate it. What re-weighing recorded
// signals cannot replay (observation windows, smoothing, cold-start rules, retention) is accepted but named
// in warnings, never silently ignored.
import { z } from 'zod';
import { routeViewSchema, routeViewOf, scoringSettingsOf, type RouteView } from '@stepgate/policy';
import { riskSectionSchema, type RiskConfig } from '../config';
import type { ScoringSettings } from '@stepgate/risk-scoring';

/** The policy one side of a backtest runs with. */
export interface BacktestSidePolicy {
  /** `cfg-<hash>` of the risk section, or a label. */
  version: string;
  config: RiskConfig;
  scoring: ScoringSettings;
  routes: ReadonlyMap<string, RouteView>;
}

export function backtestSidePolicyOf(
  config: RiskConfig,
  routes: readonly RouteView[],
  version: string,
): BacktestSidePolicy {
  return {
    version,
    config,
    scoring: scoringSettingsOf(config),
    routes: new Map(routes.map((r) => [r.id, r])),
  };
}

/** A route in a candidate: its id and what to change (a whole route from the config file passes too). */
const candidateRoute = z.looseObject({
  id: z.string().min(1),
  // Checked once merged over the route in force, with the rest (so every problem is reported at once).
  decisions: z.record(z.string(), z.unknown()).optional(),
  onRiskUnavailable: z.unknown().optional(),
  mode: z.unknown().optional(),
  stepUp: z.unknown().optional(),
});

export const candidateSchema = z.strictObject({
  risk: z.record(z.string(), z.unknown()).optional(),
  policy: z.looseObject({ routes: z.array(candidateRoute).optional() }).optional(),
});

export type CandidateInput = z.infer<typeof candidateSchema>;

export type CandidateResult =
  | { ok: true; config: RiskConfig; routes: RouteView[]; warnings: string[] }
  | { ok: false; problems: string[] };

/** Read at start only, or not policy: never part of a candidate. */
const NOT_POLICY = ['http', 'kafka', 'reload'] as const;

/**
 * Merges the candidate over the policy in force (objects key by key, arrays and scalars replaced; routes by
 * id) and validates the merged risk section with the service's own schema. Problems carry their path
 * (`risk.thresholds.medium: ...`).
 */
export function resolveCandidate(
  input: unknown,
  inForce: RiskConfig,
  inForceRoutes: readonly RouteView[],
): CandidateResult {
  // JSON.parse makes `__proto__` an own key, which merging and zod would then drop without a word: the
  // candidate that runs would not be the one that was asked for. Refused, with where it is.
  const reserved = reservedKeysIn(input, []);
  if (reserved.length > 0) {
    return { ok: false, problems: reserved.map((path) => `${path}: reserved key, not a policy setting`) };
  }
  const shape = candidateSchema.safeParse(input);
  if (!shape.success) return { ok: false, problems: problemsOf(shape.error, []) };
  const warnings: string[] = [];
  const risk = { ...(shape.data.risk ?? {}) };
  for (const key of NOT_POLICY) {
    if (key in risk) {
      warnings.push(`risk.${key} is not policy and is ignored`);
      delete risk[key];
    }
  }
  const merged = mergeDeep(inForce, risk);
  const parsed = riskSectionSchema.safeParse(merged);
  const problems: string[] = parsed.success ? [] : problemsOf(parsed.error, ['risk']);
  const routes = new Map(inForceRoutes.map((r) => [r.id, r]));
  (shape.data.policy?.routes ?? []).forEach((r, i) => {
    const base = routes.get(r.id);
    const decisions = { ...base?.decisions, ...r.decisions };
    const next = routeViewSchema.safeParse({
      id: r.id,
      decisions,
      onRiskUnavailable: r.onRiskUnavailable ?? base?.onRiskUnavailable,
      mode: r.mode ?? base?.mode,
      stepUp: r.stepUp ?? base?.stepUp,
    });
    if (!next.success) {
      problems.push(...problemsOf(next.error, ['policy', 'routes', i]));
      return;
    }
    if (!base)
      warnings.push(`policy.routes.${i}: route ${r.id} is not in force: no recorded access can reach it`);
    if (base && next.data.onRiskUnavailable !== base.onRiskUnavailable) {
      warnings.push(
        `policy.routes.${i}.onRiskUnavailable: not replayed (recorded accesses do not say when risk did not answer)`,
      );
    }
    routes.set(r.id, routeViewOf(next.data));
  });
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  const config = parsed.data;
  warnings.push(...unreplayable(inForce, config));
  return { ok: true, config, routes: [...routes.values()], warnings };
}

/**
 * Changes the recorded signals cannot replay: they change what was observed, not what it is worth. The
 * backtest keeps the recorded observation for them.
 */
export function unreplayable(inForce: RiskConfig, candidate: RiskConfig): string[] {
  const paths: [string, (c: RiskConfig) => unknown][] = [
    ['risk.failureWindowSeconds', (c) => c.failureWindowSeconds],
    ['risk.travel', (c) => c.travel],
    ['risk.velocity', (c) => c.velocity],
    ['risk.model.smoothing', (c) => c.model.smoothing],
    ['risk.model.maxBits', (c) => c.model.maxBits],
    ['risk.model.minBits', (c) => c.model.minBits],
    ['risk.model.coldStart.history', (c) => c.model.coldStart.history],
    ['risk.model.coldStart.rareShare', (c) => c.model.coldStart.rareShare],
    ['risk.model.coldStart.minPopulation', (c) => c.model.coldStart.minPopulation],
    ['risk.model.coldStart.features', (c) => c.model.coldStart.features],
    ['risk.retention', (c) => c.retention],
  ];
  const warnings = paths
    .filter(([, get]) => JSON.stringify(get(inForce)) !== JSON.stringify(get(candidate)))
    .map(
      ([path]) =>
        `${path}: changed but not replayed (recorded signals keep the observation made under the policy in force)`,
    );
  const dropped = inForce.lists.trustedNetworks.filter((n) => !candidate.lists.trustedNetworks.includes(n));
  if (dropped.length > 0) {
    warnings.push(
      `risk.lists.trustedNetworks: ${dropped.join(', ')} removed; impossible travel was not evaluated on trusted networks and is not replayed for them`,
    );
  }
  return warnings;
}

/** `risk.thresholds.medium: Too small: ...`, one per issue. */
function problemsOf(error: z.ZodError, prefix: readonly (string | number)[]): string[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path.filter((p) => typeof p !== 'symbol')].join('.') || '(candidate)';
    return `${path}: ${issue.message}`;
  });
}

function mergeDeep(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch === undefined ? base : patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = mergeDeep(base[k], v);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function reservedKeysIn(value: unknown, path: string[]): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.keys(value).flatMap((key) => [
    ...(RESERVED_KEYS.has(key) ? [[...path, key].join('.')] : []),
    ...reservedKeysIn((value as Record<string, unknown>)[key], [...path, key]),
  ]);
}
