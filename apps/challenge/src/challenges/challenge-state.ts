// What a challenge is, as its caller sees it, from its row: pure, so the rule has one home.
import type { ChallengeEntity, ChallengeStatus } from './challenge.entity';

export type ChallengeState = 'open' | 'passed' | 'expired' | 'locked';

/**
 * The statuses a subject lockout ends (as `locked_out`): an exhausted (`locked`) challenge too, since an
 * attempt admitted before its last one ran out could otherwise still pass it.
 */
export const ENDED_BY_LOCKOUT: readonly ChallengeStatus[] = ['open', 'locked'];

/**
 * The state of a challenge at `nowMs`. A challenge a subject lockout ended stays locked for good, also once
 * the lockout has expired: the subject opens a fresh one.
 */
export function challengeState(
  challenge: Pick<ChallengeEntity, 'status' | 'expiresAt' | 'attemptsLeft'>,
  nowMs: number,
): ChallengeState {
  if (challenge.status === 'passed') return 'passed';
  if (challenge.expiresAt <= nowMs) return 'expired';
  if (challenge.status !== 'open' || challenge.attemptsLeft <= 0) return 'locked';
  return 'open';
}
