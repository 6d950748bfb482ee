// Per-subject limits across all challenges, as pure decisions: consecutive failures slow the subject down
// exponentially and finally lock it. Attempts are admitted pessimistically (counted as failures before the
// answer is checked) so that parallel guesses cannot outrun the count; a pass resets it.
import type { ChallengeSection } from '../config';

export type LockoutSettings = ChallengeSection['subjectLockout'];

export interface GuardState {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

export type Admission =
  | { admitted: true; next: GuardState }
  | { admitted: false; reason: 'locked' | 'wait'; retryAfterSeconds: number };

/** How long the subject must wait after its n-th consecutive failure (ms). */
export function delayAfter(failures: number, p: LockoutSettings): number {
  if (failures <= p.freeFailures) return 0;
  const doublings = Math.min(failures - p.freeFailures - 1, 30);
  return Math.min(p.baseDelaySeconds * 2 ** doublings, p.maxDelaySeconds) * 1000;
}

/** The state as it stands at `nowMs`: failures older than the window are forgotten. */
export function current(state: GuardState | null, nowMs: number, p: LockoutSettings): GuardState {
  if (!state || state.lastFailureAt + p.windowSeconds * 1000 <= nowMs) {
    return { failures: 0, lastFailureAt: 0, blockedUntil: 0 };
  }
  return state;
}

export function isLocked(state: GuardState | null, nowMs: number, p: LockoutSettings): boolean {
  return current(state, nowMs, p).failures >= p.maxFailures;
}

/** Whether one more attempt may be made now, and the state that counts it (as a failure until it passes). */
export function admit(state: GuardState | null, nowMs: number, p: LockoutSettings): Admission {
  const now = current(state, nowMs, p);
  if (now.failures >= p.maxFailures) {
    const until = now.lastFailureAt + p.windowSeconds * 1000;
    return { admitted: false, reason: 'locked', retryAfterSeconds: secondsUntil(until, nowMs) };
  }
  if (now.blockedUntil > nowMs) {
    return { admitted: false, reason: 'wait', retryAfterSeconds: secondsUntil(now.blockedUntil, nowMs) };
  }
  const failures = now.failures + 1;
  return {
    admitted: true,
    next: { failures, lastFailureAt: nowMs, blockedUntil: nowMs + delayAfter(failures, p) },
  };
}

const secondsUntil = (untilMs: number, nowMs: number): number =>
  Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
