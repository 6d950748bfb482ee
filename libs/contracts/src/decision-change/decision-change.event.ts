import { z } from 'zod';
import { deviceId, id, isoTime, riskLevel, subject } from '../common';

export const DECISION_CHANGE_CAUSES = ['access', 'challenge_outcome'] as const;

/**
 * Published by risk when what it knows no longer matches a decision gateways may have cached, and only then
 * (adr/0019-decision-changes): its own score of an access disagreed with the level the gateway acted on, or a
 * challenge result changed the subject's or the device's standing. Every gateway instance follows the topic
 * and forgets the cached decisions it names; its volume follows changes, not traffic.
 *
 * `scope` says which cached decisions: `device`, the subject's on `deviceId` (null: its requests without a
 * device id); `subject`, every one of the subject's. `level` is the level risk now gives the context that
 * caused the change: a gateway keeps the entries in scope at exactly that level, and drops all of them when it
 * is null.
 */
export const decisionChange = z.strictObject({
  changeId: id,
  time: isoTime,
  correlationId: id,
  /** The access event or challenge that caused the change. */
  causationId: id,
  cause: z.enum(DECISION_CHANGE_CAUSES),
  scope: z.enum(['device', 'subject']),
  subject,
  deviceId: deviceId.nullable(),
  level: riskLevel.nullable(),
});
export type DecisionChange = z.infer<typeof decisionChange>;
/** By subject: a subject's changes stay in order on one partition. */
export const decisionChangeKey = (c: DecisionChange): string => c.subject;
