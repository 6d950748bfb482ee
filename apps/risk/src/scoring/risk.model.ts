// The risk model: the rule signals (device state, lists, travel, velocity, challenge failures) plus the
// likelihood model's signals; the score is the sum of every signal's weight, clamped to 0-100, and the
// level the highest threshold it reaches. Pure: the service and the evaluation harness both call it.
import type { DeviceStatus, RiskLevel } from '@stepgate/contracts';
import { likelihoodSignals } from './likelihood';
import { evaluateSignals, RULE_SIGNALS } from './signals';
import type {
  Observation,
  Population,
  RiskThresholds,
  Score,
  ScoringContext,
  ScoringPolicy,
  Signal,
  SubjectProfile,
} from './scoring.types';

/** Bumped whenever the features, smoothing or combination change meaning (weights are config, not this). */
export const MODEL_NAME = 'lr-1';

export class RiskModel {
  constructor(
    private readonly policy: ScoringPolicy,
    /** The model name and the config it runs with, e.g. `lr-1/cfg-3fa9c2d1`. */
    readonly version: string = MODEL_NAME,
    private readonly rules: readonly Signal[] = RULE_SIGNALS,
  ) {}

  score(
    context: ScoringContext,
    profile: SubjectProfile,
    observation: Observation,
    population: Population,
  ): Score {
    const signals = [
      ...evaluateSignals(this.rules, { context, profile, observation, policy: this.policy }),
      ...likelihoodSignals(observation, profile, population, this.policy.model),
    ];
    const score = clamp(signals.reduce((sum, s) => sum + s.weight, 0));
    return {
      score,
      level: levelFor(score, this.policy.thresholds),
      signals,
      deviceStatus: deviceStatusOf(context, profile),
      modelVersion: this.version,
    };
  }
}

export function levelFor(score: number, thresholds: RiskThresholds): RiskLevel {
  if (score >= thresholds.critical) return 'critical';
  if (score >= thresholds.high) return 'high';
  if (score >= thresholds.medium) return 'medium';
  return 'low';
}

export function deviceStatusOf(context: ScoringContext, profile: SubjectProfile): DeviceStatus {
  if (context.deviceId === null || profile.device === null) return 'unknown';
  return profile.device.confirmedAt === null ? 'seen' : 'confirmed';
}

function clamp(score: number): number {
  return Math.min(100, Math.max(0, Math.round(score)));
}
