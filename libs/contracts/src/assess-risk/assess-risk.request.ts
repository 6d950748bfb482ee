import { z } from 'zod';
import { deviceId, deviceSource, id, ip, subject, text } from '../common';
import { riskAssessment } from '../risk-assessment/risk-assessment.event';

/** v2 (v1 plus deviceSource). The gateway (or challenge) asks risk to score a context it has no cached decision for. Read-only: risk learns from access events. */
export const assessRiskRequest = z.strictObject({
  correlationId: id,
  subject,
  deviceId: deviceId.nullable(),
  deviceSource: deviceSource.nullable(),
  clientIp: ip,
  userAgent: text().max(1024),
  route: text().max(128).nullable(),
});
export type AssessRiskRequest = z.infer<typeof assessRiskRequest>;
export const assessRiskReply = riskAssessment;
