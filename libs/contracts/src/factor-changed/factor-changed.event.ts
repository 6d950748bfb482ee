import { z } from 'zod';
import { deviceId, id, isoTime, subject } from '../common';
import { challengeMethod } from '../challenge-outcome/challenge-outcome.event';

/** Audit trail of enrolment: every factor added, activated or removed. */
export const factorChanged = z.strictObject({
  eventId: id,
  time: isoTime,
  correlationId: id,
  subject,
  deviceId: deviceId.nullable(),
  factorId: id,
  method: challengeMethod,
  change: z.enum(['enrolled', 'activated', 'removed']),
});
export type FactorChanged = z.infer<typeof factorChanged>;
export const factorChangedKey = (e: FactorChanged): string => e.subject;
