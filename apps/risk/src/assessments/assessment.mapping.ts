import type { RiskAssessment } from '@stepgate/contracts';
import type { AssessmentRecord } from '../profiles/assessment.entity';

export type NewAssessmentRecord = Omit<AssessmentRecord, 'seq'>;

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
    signals: r.signals,
    deviceStatus: r.deviceStatus,
    modelVersion: r.modelVersion,
  };
}
