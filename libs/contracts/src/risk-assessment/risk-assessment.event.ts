import { z } from 'zod';
import { deviceId, deviceStatus, id, isoTime, riskLevel, riskSignal, subject, text } from '../common';

/** Published by risk after it scores an access; the gateway uses it to invalidate cached decisions. */
export const riskAssessment = z.strictObject({
  assessmentId: id,
  time: isoTime,
  correlationId: id,
  causationId: id.nullable(),
  subject,
  deviceId: deviceId.nullable(),
  score: z.number().min(0).max(100),
  level: riskLevel,
  signals: z.array(riskSignal).max(64),
  deviceStatus,
  modelVersion: text().min(1).max(64),
});
export type RiskAssessment = z.infer<typeof riskAssessment>;
export const riskAssessmentKey = (a: RiskAssessment): string => a.subject;
