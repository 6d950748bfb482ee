import { z } from 'zod';
import { id, isoTime, subject } from '../common';

export const SESSION_REVOCATION_REASONS = ['logout', 'elevated'] as const;

/**
 * A browser session id that must no longer be accepted, published by the gateway instance that ended it (a
 * logout, or an elevation that replaced it with a new session) and followed by every gateway instance. The
 * session would have expired on its own at `expiresAt` (its absolute timeout): the entry is kept until then.
 */
export const sessionRevoked = z.strictObject({
  sessionId: id,
  subject,
  revokedAt: isoTime,
  expiresAt: isoTime,
  reason: z.enum(SESSION_REVOCATION_REASONS),
});
export type SessionRevoked = z.infer<typeof sessionRevoked>;
export type SessionRevocationReason = SessionRevoked['reason'];
export const sessionRevokedKey = (e: SessionRevoked): string => e.sessionId;
