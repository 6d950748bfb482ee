import { describe, expect, it } from 'vitest';
import { challengeState, ENDED_BY_LOCKOUT } from './challenge-state';

const now = 1_764_300_000_000;
const open = { status: 'open', expiresAt: now + 60_000, attemptsLeft: 5 } as const;

describe(challengeState.name, () => {
  it('is open while it has attempts left and time', () => {
    expect(challengeState(open, now)).toBe('open');
  });

  it('is locked when its attempts ran out', () => {
    expect(challengeState({ ...open, attemptsLeft: 0 }, now)).toBe('locked');
    expect(challengeState({ ...open, status: 'locked', attemptsLeft: 0 }, now)).toBe('locked');
  });

  it('is locked for good once a subject lockout ended it, attempts and time left or not', () => {
    expect(challengeState({ ...open, status: 'locked_out' }, now)).toBe('locked');
    expect(challengeState({ ...open, status: 'locked_out' }, now + 59_999)).toBe('locked');
  });

  it('is passed once passed, and expired past its time otherwise', () => {
    expect(challengeState({ ...open, status: 'passed' }, now + 120_000)).toBe('passed');
    expect(challengeState(open, now + 60_000)).toBe('expired');
    expect(challengeState({ ...open, status: 'locked_out' }, now + 60_000)).toBe('expired');
  });
});

describe('ENDED_BY_LOCKOUT', () => {
  it('ends open and exhausted challenges, never a passed one', () => {
    expect([...ENDED_BY_LOCKOUT].sort()).toEqual(['locked', 'open']);
  });
});
