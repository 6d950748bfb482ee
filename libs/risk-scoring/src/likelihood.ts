// The likelihood model, after Freeman et al. (NDSS 2016, "Who Are You? A Statistical Approach to Measuring
// User Authenticity"): for each feature, how likely the observed value is for an attacker (who comes from
// the population at large: the global distribution) against how likely it is for this subject (the
// subject's history, smoothed towards the global distribution), in bits; the bits add up across features.
// Positive bits point at an attacker, negative ones at the subject. Subjects with little history fall back
// on how rare a value is in the population (cold start).
import type { RiskSignal } from '@stepgate/contracts';
import { top } from './signals';
import { published, weigh, type ObservedSignal } from './weighing';

export { floorAtZero } from './weighing';
import {
  FEATURES,
  type RiskWeights,
  type Feature,
  type FeaturePopulation,
  type ModelSettings,
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
  /** log2(pGlobal / pSubject), clipped to [minBits, maxBits]. */
  clipped: number;
  /** `clipped` times the feature's weight. */
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
  model: ModelSettings,
): FeatureEvidence[] {
  return featureEvidence(observation, profile, population, model).filter(
    (e) => model.features[e.feature] !== 0,
  );
}

/**
 * The evidence of every feature the observation has a value for, weight 0 included: what a backtest needs to
 * weigh a feature the policy in force ignores.
 */
export function featureEvidence(
  observation: Observation,
  profile: SubjectProfile,
  population: Population,
  model: ModelSettings,
): FeatureEvidence[] {
  const evidence: FeatureEvidence[] = [];
  for (const feature of FEATURES) {
    const value = observation.values[feature];
    const weight = model.features[feature];
    if (value === null) continue;
    const history = profile.features[feature];
    const subjectCount = history.get(value) ?? 0;
    let subjectTotal = 0;
    for (const n of history.values()) subjectTotal += n;
    const pGlobal = globalProbability(population[feature]);
    const pSubject = subjectProbability(subjectCount, subjectTotal, pGlobal, model.smoothing);
    const raw = Math.log2(pGlobal / pSubject);
    const clipped = Math.min(model.maxBits, Math.max(model.minBits, raw));
    const bits = weight * clipped;
    evidence.push({ feature, value, subjectCount, subjectTotal, pGlobal, pSubject, clipped, bits });
  }
  return evidence;
}

/** 1 at no history, falling linearly to 0 at `coldStart.history` learned accesses. */
export function coldStartWeight(historySize: number, model: ModelSettings): number {
  if (model.coldStart.history <= 0) return 0;
  return Math.max(0, 1 - historySize / model.coldStart.history);
}

/**
 * What the model observed, before any points: `history` (how much the model knows), one `model_<feature>`
 * per feature with a value (its clipped bits as units: points = round(weight × bits × pointsPerBit)), and
 * `rare_<feature>` for rare values in cold start (the cold-start weight as units: points =
 * round(coldStart.points × units)). weighing.ts turns them into points under a policy.
 */
export function likelihoodObservations(
  observation: Observation,
  profile: SubjectProfile,
  population: Population,
  model: ModelSettings,
): ObservedSignal[] {
  const cold = coldStartWeight(profile.historySize, model);
  const observed: ObservedSignal[] = [
    {
      name: 'history',
      knob: 'none',
      units: 0,
      detail:
        `${profile.historySize} allowed ${profile.historySize === 1 ? 'access' : 'accesses'} learned` +
        (cold > 0
          ? `; cold start (below ${model.coldStart.history}): global rarity weighs ×${cold.toFixed(2)}`
          : ''),
    },
  ];
  for (const e of featureEvidence(observation, profile, population, model)) {
    observed.push({
      name: `model_${e.feature}`,
      knob: `model.${e.feature}`,
      units: e.clipped,
      detail: describe(e, profile.features[e.feature]),
    });
  }
  if (cold > 0) {
    for (const feature of model.coldStart.features) {
      const value = observation.values[feature];
      const pop = population[feature];
      if (value === null || pop.total < model.coldStart.minPopulation) continue;
      const share = pop.count / pop.total;
      if (share >= model.coldStart.rareShare) continue;
      observed.push({
        name: `rare_${feature}`,
        knob: `coldStart.${feature}`,
        units: cold,
        detail:
          `${feature} ${value} is rare: ${percent(share)} of the population (${pop.count} of ${pop.total}), ` +
          `below ${percent(model.coldStart.rareShare)}`,
      });
    }
  }
  return observed;
}

/**
 * The model's published signals: `history` (weight 0, how much the model knows), one per feature whose bits
 * moved the score, and `rare_<feature>` for rare values in cold start. Familiar values offset novel ones, but
 * the model never goes below 0 (familiar networks must not lower the rule signals: an unconfirmed device
 * stays medium): when they outweigh the rest, their weights are scaled down so the model's weights add up to
 * 0. The weights always add up to the model's share of the score. (The risk model weighs these together with
 * the rule signals through weighing.ts; this is the model's share alone.)
 */
export function likelihoodSignals(
  observation: Observation,
  profile: SubjectProfile,
  population: Population,
  model: ModelSettings,
): RiskSignal[] {
  const observed = likelihoodObservations(observation, profile, population, model);
  return published(weigh(observed, { weights: NO_WEIGHTS, thresholds: ANY_THRESHOLDS, model }).signals);
}

const NO_WEIGHTS: RiskWeights = {
  newDevice: 0,
  unconfirmedDevice: 0,
  deviceContextChanged: 0,
  failedChallenge: 0,
  failedChallengeMax: 0,
  lockout: 0,
  badIp: 0,
  trustedNetwork: 0,
  impossibleTravel: 0,
  velocityRequests: 0,
  velocityIps: 0,
  velocityDevices: 0,
};
const ANY_THRESHOLDS = { medium: 30, high: 60, critical: 85 };

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
