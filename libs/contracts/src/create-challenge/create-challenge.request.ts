import { z } from 'zod';
import { deviceId, id, isoTime, riskLevel, riskSignal, subject, text } from '../common';
import { challengeMethod } from '../challenge-outcome/challenge-outcome.event';

/**
 * v2 (the enrolment answer names its methods). The gateway asks challenge to open a step-up challenge; it
 * carries the risk snapshot and the route's requirement at that level (`requiredAcr`).
 */
export const createChallengeRequest = z.strictObject({
  correlationId: id,
  subject,
  sessionId: id.nullable(),
  deviceId: deviceId.nullable(),
  route: text().max(128),
  requiredAcr: text().min(1).max(128),
  maxAgeSeconds: z.number().int().positive(),
  risk: z.strictObject({
    score: z.number().min(0).max(100),
    level: riskLevel,
    signals: z.array(riskSignal).max(64),
  }),
});
export type CreateChallengeRequest = z.infer<typeof createChallengeRequest>;

export const createChallengeReply = z.discriminatedUnion('status', [
  z.strictObject({
    status: z.literal('open'),
    challengeId: id,
    methods: z.array(challengeMethod).min(1),
    expiresAt: isoTime,
  }),
  /** The policy allows methods the subject has not enrolled: enrol first (never a silent downgrade). */
  z.strictObject({
    status: z.literal('enrolment_required'),
    reason: text().max(500),
    /** The methods that would do, strongest first: the client's enrolment hint points at the first. */
    methods: z.array(challengeMethod).min(1),
  }),
  /** No method may satisfy this risk level (critical): denied with the reason. */
  z.strictObject({ status: z.literal('denied'), reason: text().max(500) }),
]);
export type CreateChallengeReply = z.infer<typeof createChallengeReply>;
