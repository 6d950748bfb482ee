// The likelihood model, after Freeman et al. (NDSS 2016, "Who Are You? A Statistical Approach to Measuring
// User Authenticity"): for each feature, how likely the observed value is for an attacker (who comes from
// the population at large: the global distribution) against how likely it is for this subject (the
// subject's history, smoothed towards the global distribution), in bits; the bits add up across features.
// Positive bits point at an attacker, negative ones at the subject. Subjects with little history fall back
// on how rare a value is in the population (cold start).
import type { RiskSignal } from '@stepgate/contracts';
import { signal, top } from './signals';
import {
  FEATURES,
  type Feature,
  type FeaturePopulation,
  type ModelPolicy,
  type Observation,
  type Population,
  type SubjectProfile,
} from './scoring.types';

export interface FeatureEvidence {
  feature: Feature;
  value: string;
  /** Learned accesses of the subject with this value, and with any value of the feature. */
  subjectCount: number;
  subjectTotal: number;
  /** p(value | population), add-one smoothed over the values seen plus one for the unseen. */
  pGlobal: number;
  /** p(value | subject), additive smoothing towards pGlobal. */
  pSubject: number;
  /** log2(pGlobal / pSubject), clipped and weighted. */
  bits: number;
}

/** p(value | population): values are counted once per subject that used them. */
export function globalProbability(pop: FeaturePopulation): number {
  return (pop.count + 1) / (pop.total + pop.distinct + 1);
}

/** p(value | subject) = (count + α·pGlobal) / (history + α): an unseen value backs off to the global share. */
export function subjectProbability(count: number, total: number, pGlobal: number, alpha: number): number {
  return (count + alpha * pGlobal) / (total + alpha);
}

/** The evidence of every feature the observation has a value for (and the policy has a weight for). */
export function weighFeatures(
  observation: Observation,
  profile: SubjectProfile,
  population: Population,
  model: ModelPolicy,
): FeatureEvidence[] {
  const evidence: FeatureEvidence[] = [];
  for (const feature of FEATURES) {
    const value = observation.values[feature];
    const weight = model.features[feature];
    if (value === null || weight === 0) continue;
    const history = profile.features[feature];
    const subjectCount = history.get(value) ?? 0;
    let subjectTotal = 0;
    for (const n of history.values()) subjectTotal += n;
    const pGlobal = globalProbability(population[feature]);
    const pSubject = subjectProbability(subjectCount, subjectTotal, pGlobal, model.smoothing);
    const raw = Math.log2(pGlobal / pSubject);
    const bits = weight * Math.min(model.maxBits, Math.max(model.minBits, raw));
    evidence.push({ feature, value, subjectCount, subjectTotal, pGlobal, pSubject, bits });
  }
  return evidence;
}

/** 1 at no history, falling linearly to 0 at `coldStart.history` learned accesses. */
export function coldStartWeight(historySize: number, model: ModelPolicy): number {
  if (model.coldStart.history <= 0) return 0;
  return Math.max(0, 1 - historySize / model.coldStart.history);
}

/**
 * The model's signals: `history` (weight 0, how much the model knows), one per feature whose bits moved the
 * score, and `rare_<feature>` for rare values in cold start. Familiar values offset novel ones, but the model
 * never goes below 0 (familiar networks must not lower the rule signals: an unconfirmed device stays medium):
 * when they outweigh the rest, their weights are scaled down so the model's weights add up to 0. The
 * weights always add up to the model's share of the score.
 */
export function likelihoodSignals(
  observation: Observation,
  profile: SubjectProfile,
  population: Population,
  model: ModelPolicy,
): RiskSignal[] {
  const cold = coldStartWeight(profile.historySize, model);
  const history = signal(
    'history',
    0,
    `${profile.historySize} allowed ${profile.historySize === 1 ? 'access' : 'accesses'} learned` +
      (cold > 0
        ? `; cold start (below ${model.coldStart.history}): global rarity weighs ×${cold.toFixed(2)}`
        : ''),
  );
  const parts: { name: string; points: number; detail: string }[] = [];
  for (const e of weighFeatures(observation, profile, population, model)) {
    const points = Math.round(e.bits * model.pointsPerBit);
    if (points !== 0)
      parts.push({ name: `model_${e.feature}`, points, detail: describe(e, profile.features[e.feature]) });
  }
  if (cold > 0) {
    for (const feature of model.coldStart.features) {
      const value = observation.values[feature];
      const pop = population[feature];
      if (value === null || pop.total < model.coldStart.minPopulation) continue;
      const share = pop.count / pop.total;
      if (share >= model.coldStart.rareShare) continue;
      const points = Math.round(model.coldStart.points * cold);
      if (points === 0) continue;
      parts.push({
        name: `rare_${feature}`,
        points,
        detail:
          `${feature} ${value} is rare: ${percent(share)} of the population (${pop.count} of ${pop.total}), ` +
          `below ${percent(model.coldStart.rareShare)}`,
      });
    }
  }
  const weights = floorAtZero(parts.map((p) => p.points));
  return [
    history,
    ...parts.map((p, i) =>
      signal(
        p.name,
        clamp100(weights[i]!),
        weights[i] === p.points
          ? p.detail
          : `${p.detail} (offsets novelty only: ${p.points} scaled to ${weights[i]})`,
      ),
    ),
  ];
}

/** Scales the negative points down so the total is not below 0; integers, adding up exactly. */
export function floorAtZero(points: number[]): number[] {
  const positive = points.filter((p) => p > 0).reduce((s, p) => s + p, 0);
  const negative = -points.filter((p) => p < 0).reduce((s, p) => s + p, 0);
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

function describe(e: FeatureEvidence, history: ReadonlyMap<string, number>): string {
  const seen =
    e.subjectCount === 0
      ? `new for the subject`
      : `${e.subjectCount} of the subject's ${e.subjectTotal} accesses`;
  return (
    `${e.feature.replace('_', ' ')} ${e.value}: ${seen} (usual: ${top(history)}); ` +
    `${percent(e.pGlobal)} of the population; ${e.bits >= 0 ? '+' : ''}${e.bits.toFixed(1)} bits`
  );
}

function percent(p: number): string {
  const v = p * 100;
  return `${v >= 1 ? v.toFixed(1) : v.toPrecision(2)}%`;
}

const clamp100 = (n: number) => Math.max(-100, Math.min(100, n));
