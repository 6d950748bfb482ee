// The risk model: the rule signals (device state, lists, travel, velocity, challenge failures) plus the
// likelihood model's signals; the score is the sum of every signal's weight, clamped to 0-100, and the
// level the highest threshold it reaches. Pure: the service and the evaluation harness both call it.
import type { DeviceStatus } from '@stepgate/contracts';
import { likelihoodObservations } from './likelihood';
import { evaluateSignals, RULE_SIGNALS } from './signals';
import { knobOf, levelFor, weigh, type ObservedSignal } from './weighing';
import type {
  Observation,
  Population,
  RiskWeights,
  Score,
  ScoringContext,
  ScoringSettings,
  Signal,
  SignalInput,
  SubjectProfile,
} from './scoring.types';

/** Bumped whenever the features, smoothing or combination change meaning (weights are config, not this). */
// lr-2: a missing feature value is a value of its own (observation.ts NONE), API clients are named by product.
export const MODEL_NAME = 'lr-2';

export class RiskModel {
  constructor(
    private readonly policy: ScoringSettings,
    /** The model name and the config it runs with, e.g. `lr-2/cfg-3fa9c2d1`. */
    readonly version: string = MODEL_NAME,
    private readonly rules: readonly Signal[] = RULE_SIGNALS,
  ) {}

  score(
    context: ScoringContext,
    profile: SubjectProfile,
    observation: Observation,
    population: Population,
  ): Score {
    const observed = [
      ...observeRules(this.rules, { context, profile, observation, policy: this.policy }),
      ...likelihoodObservations(observation, profile, population, this.policy.model),
    ];
    const weighed = weigh(observed, this.policy);
    return {
      score: weighed.score,
      level: weighed.level,
      signals: weighed.signals,
      monitored: weighed.monitored,
      deviceStatus: deviceStatusOf(context, profile),
      modelVersion: this.version,
    };
  }
}

/**
 * Runs the rule signals with every weight at 1 (and no cap on failures), so a signal reports what it observed
 * (its units) even when the policy's weight is 0: its points are weighing's business.
 */
export function observeRules(rules: readonly Signal[], input: SignalInput): ObservedSignal[] {
  const probe: SignalInput = { ...input, policy: { ...input.policy, weights: UNIT_WEIGHTS } };
  return evaluateSignals(rules, probe).map((s) => ({
    name: s.name,
    knob: knobOf(s.name),
    units: s.weight,
    detail: s.detail,
  }));
}

const UNIT_WEIGHTS: RiskWeights = {
  newDevice: 1,
  unconfirmedDevice: 1,
  deviceContextChanged: 1,
  failedChallenge: 1,
  failedChallengeMax: Number.MAX_SAFE_INTEGER,
  lockout: 1,
  badIp: 1,
  trustedNetwork: 1,
  impossibleTravel: 1,
  velocityRequests: 1,
  velocityIps: 1,
  velocityDevices: 1,
};

export { levelFor };

export function deviceStatusOf(context: ScoringContext, profile: SubjectProfile): DeviceStatus {
  if (context.deviceId === null || profile.device === null) return 'unknown';
  return profile.device.confirmedAt === null ? 'seen' : 'confirmed';
}
