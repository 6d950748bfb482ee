import { z } from 'zod';
import { deviceId, id, isoTime, subject } from '../common';

export const CHALLENGE_METHODS = ['totp', 'webauthn', 'recovery_code'] as const;
export const challengeMethod = z.enum(CHALLENGE_METHODS);
export type ChallengeMethod = z.infer<typeof challengeMethod>;

/** Published by challenge for every verification attempt, so risk learns (confirmed devices, failure streaks). */
export const challengeOutcome = z.strictObject({
  challengeId: id,
  time: isoTime,
  correlationId: id,
  subject,
  deviceId: deviceId.nullable(),
  method: challengeMethod,
  result: z.enum(['passed', 'failed', 'expired', 'locked']),
  attemptsLeft: z.number().int().min(0),
});
export type ChallengeOutcome = z.infer<typeof challengeOutcome>;
export const challengeOutcomeKey = (o: ChallengeOutcome): string => o.subject;
