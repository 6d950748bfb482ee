import type { RiskAssessment } from '@stepgate/contracts';
import type { AssessmentEntity } from '../profiles/assessment.entity';
import { published, type ScoredSignal } from '@stepgate/risk-scoring';

export type NewAssessmentRecord = Omit<AssessmentEntity, 'seq'>;

/** The stored assessment as the contract publishes it. */
export function toRiskAssessment(r: NewAssessmentRecord): RiskAssessment {
  return {
    assessmentId: r.assessmentId,
    time: new Date(r.time).toISOString(),
    correlationId: r.correlationId,
    causationId: r.causationId,
    subject: r.subject,
    deviceId: r.deviceId,
    score: r.score,
    level: r.level,
    // Only what the contract says: risk keeps more about each signal for itself (backtesting), and signals
    // with no points under the policy that scored them (kept so a backtest can weigh them) are not said.
    signals: published(r.signals as ScoredSignal[]),
    deviceStatus: r.deviceStatus,
    modelVersion: r.modelVersion,
  };
}
