// rules-1: the score is the sum of the weights of the signals that fired, clamped to 0-100, and the
// level is the highest threshold it reaches. A likelihood model can later sit beside it with the same shape.
import type { DeviceStatus, RiskLevel } from '@stepgate/contracts';
import { evaluateSignals, RULES_SIGNALS } from './signals';
import type {
  Observation,
  RiskThresholds,
  Score,
  ScoringContext,
  ScoringPolicy,
  Signal,
  SubjectProfile,
} from './scoring.types';

export class RulesModel {
  readonly version = 'rules-1';

  constructor(
    private readonly policy: ScoringPolicy,
    private readonly signals: readonly Signal[] = RULES_SIGNALS,
  ) {}

  score(context: ScoringContext, profile: SubjectProfile, observation: Observation): Score {
    const signals = evaluateSignals(this.signals, { context, profile, observation, policy: this.policy });
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
  return Math.min(100, Math.max(0, score));
}
