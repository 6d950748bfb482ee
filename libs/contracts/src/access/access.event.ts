import { z } from 'zod';
import { deviceId, deviceSource, id, ip, isoTime, riskLevel, subject, text } from '../common';

export const ACCESS_DECISIONS = ['allow', 'step_up', 'deny', 'unauthenticated'] as const;

/**
 * v3 (v2 plus deviceSource, monitored, steppedUp; v2 was v1 plus policyVersion). Published by the gateway for every request, allowed or not; keyed by subject (or client IP when
 * anonymous). What risk learns is decided by risk's own score of the access, never by `riskLevel` (the
 * gateway's view, possibly from its cache): see docs/RISK.md.
 */
export const accessEvent = z.strictObject({
  eventId: id,
  time: isoTime,
  correlationId: id,
  subject: subject.nullable(),
  sessionId: id.nullable(),
  deviceId: deviceId.nullable(),
  deviceSource: deviceSource.nullable(),
  clientIp: ip,
  userAgent: text().max(1024),
  method: text().min(1).max(16),
  host: text().min(1).max(255),
  path: text().min(1).max(4096),
  route: text().max(128).nullable(),
  decision: z.enum(ACCESS_DECISIONS),
  reason: text().max(256),
  status: z.number().int().min(100).max(599),
  riskScore: z.number().min(0).max(100).nullable(),
  riskLevel: riskLevel.nullable(),
  acr: text().max(128).nullable(),
  /** The policy version the gateway decided under; null while it runs on the config file's policy at start. */
  policyVersion: z.int().min(1).nullable(),
  /** A monitor-mode route forwarded a request that enforcement would have stepped up or denied. */
  monitored: z.boolean(),
  /** The request passed because the token satisfied the route's step-up requirement (acr and max_age). */
  steppedUp: z.boolean(),
});
export type AccessEvent = z.infer<typeof accessEvent>;
export type AccessDecision = AccessEvent['decision'];
export const accessEventKey = (e: AccessEvent): string => e.subject ?? `ip:${e.clientIp}`;
