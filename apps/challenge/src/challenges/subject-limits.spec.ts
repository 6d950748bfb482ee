import { describe, expect, it } from 'vitest';
import { admit, delayAfter, isLocked, type GuardState, type LockoutSettings } from './subject-limits';

const policy: LockoutSettings = {
  maxFailures: 10,
  windowSeconds: 900,
  freeFailures: 3,
  baseDelaySeconds: 2,
  maxDelaySeconds: 20,
};
const t = 1_764_300_000_000;

describe(delayAfter.name, () => {
  it('is free for the first failures, then doubles up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => delayAfter(n, policy) / 1000)).toEqual([
      0, 0, 0, 2, 4, 8, 16, 20, 20,
    ]);
  });

  it('does not overflow for absurd counts', () => {
    expect(delayAfter(10_000, { ...policy, maxDelaySeconds: 86_400 })).toBe(86_400_000);
  });
});

describe(admit.name, () => {
  it('admits a first attempt and counts it as a failure until it passes', () => {
    expect(admit(null, t, policy)).toEqual({
      admitted: true,
      next: { failures: 1, lastFailureAt: t, blockedUntil: t },
    });
  });

  it('makes the subject wait after the free failures, saying how long', () => {
    let state: GuardState | null = null;
    for (let i = 0; i < 4; i++) {
      const a = admit(state, t, policy);
      if (!a.admitted) throw new Error(`attempt ${i + 1} refused`);
      state = a.next;
    }
    expect(state).toEqual({ failures: 4, lastFailureAt: t, blockedUntil: t + 2000 });
    expect(admit(state, t + 500, policy)).toEqual({ admitted: false, reason: 'wait', retryAfterSeconds: 2 });
    expect(admit(state, t + 1999, policy)).toEqual({ admitted: false, reason: 'wait', retryAfterSeconds: 1 });
    expect(admit(state, t + 2000, policy)).toMatchObject({
      admitted: true,
      next: { failures: 5, blockedUntil: t + 2000 + 4000 },
    });
  });

  it('locks at maxFailures until the window passes without failures', () => {
    const state: GuardState = { failures: 10, lastFailureAt: t, blockedUntil: t + 20_000 };
    expect(isLocked(state, t + 100_000, policy)).toBe(true);
    expect(admit(state, t + 100_000, policy)).toEqual({
      admitted: false,
      reason: 'locked',
      retryAfterSeconds: 800,
    });
    expect(isLocked(state, t + 900_000, policy)).toBe(false);
    expect(admit(state, t + 900_000, policy)).toEqual({
      admitted: true,
      next: { failures: 1, lastFailureAt: t + 900_000, blockedUntil: t + 900_000 },
    });
  });
});
