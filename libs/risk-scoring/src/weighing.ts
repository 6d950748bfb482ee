// From what the signals observed to points, a score and a level under a policy. Every signal records its
// units and the knob that prices them, so its points under any policy are a pure function of (units,
// policy): the risk model scores through here, and a backtest re-weighs recorded signals through the same
// code, which is what makes a re-weighed score under the policy that made it equal the recorded one.
import type { RiskLevel, RiskSignal } from '@stepgate/contracts';
import {
  FEATURES,
  type Feature,
  type ModelSettings,
  type RiskThresholds,
  type RiskWeights,
} from './scoring.types';

/**
 * What prices a signal: a rule weight (points = weight × units), `failedChallenge` (min(units ×
 * failedChallenge, failedChallengeMax)), `model.<feature>` (round(features[f] × units × pointsPerBit), units
 * = clipped bits), `coldStart.<feature>` (round(coldStart.points × units), units = the cold-start weight), or
 * `none` (context only: always 0 points).
 */
export type SignalKnob = keyof RiskWeights | `model.${Feature}` | `coldStart.${Feature}` | 'none';

/** A signal as observed, before a policy prices it. */
export interface ObservedSignal {
  name: string;
  knob: SignalKnob;
  units: number;
  /** The observation in words (without points: those depend on the policy). */
  detail: string;
}

/**
 * A signal as risk stores it: the published fields plus its units. Kept small on purpose (a backtest reads
 * millions): the knob follows from the name (knobOf), the points from units and policy, and the observation's
 * own words from the detail (monitor prefix and offset suffix taken off).
 */
export interface ScoredSignal extends RiskSignal {
  units: number;
  /** No points under the policy (a disabled signal): stored for backtests, never published. */
  silent?: true;
  /** In monitor mode: weight 0; the detail says what it would have added. */
  monitored?: true;
}

export interface WeighingSettings {
  weights: RiskWeights;
  thresholds: RiskThresholds;
  model: Pick<ModelSettings, 'pointsPerBit' | 'features' | 'coldStart'>;
  /** Signal names in monitor mode: computed and explained, not counted. */
  monitor?: ReadonlySet<string>;
}

export interface MonitoredEffect {
  name: string;
  points: number;
  /** Counting it would have given a higher level. */
  raisesLevel: boolean;
}

export interface Weighed {
  score: number;
  level: RiskLevel;
  signals: ScoredSignal[];
  monitored: MonitoredEffect[];
}

const LEVELS: readonly RiskLevel[] = ['low', 'medium', 'high', 'critical'];
export const levelRank = (level: RiskLevel): number => LEVELS.indexOf(level);

/** The rule signals' names and the weight that prices each. */
export const RULE_KNOBS: Readonly<Record<string, keyof RiskWeights>> = {
  new_device: 'newDevice',
  unconfirmed_device: 'unconfirmedDevice',
  device_context_changed: 'deviceContextChanged',
  failed_challenges: 'failedChallenge',
  challenge_lockout: 'lockout',
  bad_ip: 'badIp',
  trusted_network: 'trustedNetwork',
  impossible_travel: 'impossibleTravel',
  velocity_requests: 'velocityRequests',
  velocity_ips: 'velocityIps',
  velocity_devices: 'velocityDevices',
};

/** Every signal that can add points: what `risk.monitor` may name. */
export const SIGNAL_NAMES: readonly string[] = [
  ...Object.keys(RULE_KNOBS),
  ...FEATURES.map((f) => `model_${f}`),
  ...FEATURES.map((f) => `rare_${f}`),
];

export function pointsOf(
  knob: SignalKnob,
  units: number,
  policy: Omit<WeighingSettings, 'thresholds'>,
): number {
  // `+ 0` turns -0 (0 × a negative) into 0: stored as JSON, -0 would come back as 0.
  return priced(knob, units, policy) + 0;
}

function priced(knob: SignalKnob, units: number, policy: Omit<WeighingSettings, 'thresholds'>): number {
  if (knob === 'none') return 0;
  if (knob === 'failedChallenge') {
    const { failedChallenge, failedChallengeMax } = policy.weights;
    return Math.min(units * failedChallenge, failedChallengeMax);
  }
  if (knob.startsWith('model.')) {
    const feature = knob.slice(6) as Feature;
    // The same operations in the same order as the model's (bits = weight × clipped; × pointsPerBit).
    return Math.round(policy.model.features[feature] * units * policy.model.pointsPerBit);
  }
  if (knob.startsWith('coldStart.')) return Math.round(policy.model.coldStart.points * units);
  return policy.weights[knob as keyof RiskWeights] * units;
}

const isModel = (knob: SignalKnob) => knob.startsWith('model.') || knob.startsWith('coldStart.');

/**
 * Prices the observed signals: rule signals add their points; the model's signals offset each other but
 * never take the model below 0 (floorAtZero); monitored signals add nothing. The score is the sum, rounded
 * and clamped to 0-100.
 */
export function weigh(observed: readonly ObservedSignal[], policy: WeighingSettings): Weighed {
  const points = observed.map((o) => pointsOf(o.knob, o.units, policy));
  const monitor = policy.monitor;
  const monitored = observed.map(
    (o, i) => monitor !== undefined && o.knob !== 'none' && points[i] !== 0 && monitor.has(o.name),
  );
  const combined = combine(observed, points, monitored);
  const score = clampScore(combined.sum);
  const level = levelFor(score, policy.thresholds);
  const effects: MonitoredEffect[] = [];
  monitored.forEach((m, i) => {
    if (!m) return;
    const counted = combine(
      observed,
      points,
      monitored.map((x, j) => x && j !== i),
    );
    const would = levelFor(clampScore(counted.sum), policy.thresholds);
    effects.push({
      name: observed[i]!.name,
      points: points[i]!,
      raisesLevel: levelRank(would) > levelRank(level),
    });
  });
  const signals = observed.map((o, i): ScoredSignal => {
    const p = points[i]!;
    if (monitored[i]) {
      const detail = truncate(`${MONITOR_PREFIX}${p} points: ${o.detail}`);
      return { name: o.name, weight: 0, detail, units: o.units, monitored: true };
    }
    const floored = combined.floored[i];
    const weight = combined.weights[i]!;
    const detail =
      floored === undefined || floored === p
        ? o.detail
        : `${o.detail}${OFFSET_INFIX}${p} scaled to ${floored})`;
    const s: ScoredSignal = { name: o.name, weight, detail: truncate(detail), units: o.units };
    if (o.knob !== 'none' && p === 0) s.silent = true;
    return s;
  });
  return { score, level, signals, monitored: effects };
}

/** Score, level and each signal's weight, without explanations: the backtest's hot path (same arithmetic). */
export function tally(
  observed: readonly ObservedSignal[],
  policy: WeighingSettings,
): { score: number; level: RiskLevel; weights: number[]; sum: number } {
  const points = observed.map((o) => pointsOf(o.knob, o.units, policy));
  const monitor = policy.monitor;
  const monitored = observed.map(
    (o, i) =>
      monitor !== undefined &&
      monitor.size > 0 &&
      o.knob !== 'none' &&
      points[i] !== 0 &&
      monitor.has(o.name),
  );
  const { weights, sum } = combine(observed, points, monitored);
  const score = clampScore(sum);
  return { score, level: levelFor(score, policy.thresholds), weights, sum };
}

/** The signals the contract publishes: silent ones (no points under the policy) stay in risk. */
export function published(signals: readonly ScoredSignal[]): RiskSignal[] {
  return signals.filter((s) => !s.silent).map(({ name, weight, detail }) => ({ name, weight, detail }));
}

const MONITOR_PREFIX = 'monitor: would add ';
const OFFSET_INFIX = ' (offsets novelty only: ';

/** A stored signal back to what was observed. */
export function observedOf(s: ScoredSignal): ObservedSignal {
  let detail = s.detail;
  if (s.monitored) {
    detail = detail.slice(detail.indexOf(' points: ') + 9);
  } else if (detail.endsWith(')')) {
    const at = detail.lastIndexOf(OFFSET_INFIX);
    if (at >= 0) detail = detail.slice(0, at);
  }
  return { name: s.name, knob: knobOf(s.name), units: s.units, detail };
}

/** What prices a signal, from its name. */
export function knobOf(name: string): SignalKnob {
  let knob = KNOBS.get(name);
  if (knob === undefined) {
    knob = knobOfName(name);
    if (KNOBS.size < 1000) KNOBS.set(name, knob);
  }
  return knob;
}

const KNOBS = new Map<string, SignalKnob>();

function knobOfName(name: string): SignalKnob {
  if (Object.hasOwn(RULE_KNOBS, name)) return RULE_KNOBS[name]!;
  if (name.startsWith('model_')) return `model.${name.slice(6) as Feature}`;
  if (name.startsWith('rare_')) return `coldStart.${name.slice(5) as Feature}`;
  return 'none';
}

function combine(
  observed: readonly ObservedSignal[],
  points: readonly number[],
  monitored: readonly boolean[],
) {
  const weights = points.map((p, i) => (monitored[i] || isModel(observed[i]!.knob) ? 0 : p));
  const floored: (number | undefined)[] = [];
  const model: number[] = [];
  observed.forEach((o, i) => {
    if (isModel(o.knob) && points[i] !== 0 && !monitored[i]) model.push(i);
  });
  const scaled = floorAtZero(model.map((i) => points[i]!));
  model.forEach((i, k) => {
    floored[i] = scaled[k]!;
    weights[i] = clamp100(scaled[k]!);
  });
  return { weights, floored, sum: weights.reduce((s, w) => s + w, 0) };
}

/** Scales the negative points down so the total is not below 0; integers, adding up exactly. */
export function floorAtZero(points: number[]): number[] {
  let positive = 0;
  let negative = 0;
  for (const p of points) {
    if (p > 0) positive += p;
    else negative -= p;
  }
  if (negative <= positive) return points;
  // `+ 0` turns -0 into 0.
  const scaled = points.map((p) => (p < 0 ? Math.round((p * positive) / negative) + 0 : p));
  let residue = scaled.reduce((s, p) => s + p, 0);
  // Rounding may leave the total a point or two off 0: take it from (or give it to) the negatives, largest first.
  const order = scaled
    .map((p, i) => i)
    .filter((i) => points[i]! < 0)
    .sort((a, b) => points[a]! - points[b]!);
  for (let k = 0; residue !== 0 && order.length > 0; k = (k + 1) % order.length) {
    const i = order[k]!;
    const step = residue > 0 ? -1 : 1;
    if (step > 0 && scaled[i]! >= 0) continue;
    scaled[i]! += step;
    residue += step;
  }
  return scaled;
}

export function levelFor(score: number, thresholds: RiskThresholds): RiskLevel {
  if (score >= thresholds.critical) return 'critical';
  if (score >= thresholds.high) return 'high';
  if (score >= thresholds.medium) return 'medium';
  return 'low';
}

export function clampScore(score: number): number {
  return Math.min(100, Math.max(0, Math.round(score)));
}

const clamp100 = (n: number) => Math.max(-100, Math.min(100, n));

const MAX_DETAIL = 500; // the contract's limit
function truncate(detail: string): string {
  return detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail;
}
