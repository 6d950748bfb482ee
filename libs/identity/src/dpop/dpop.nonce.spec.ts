import { describe, expect, it } from 'vitest';
import { DpopNonces } from './dpop.nonce';

describe(DpopNonces.name, () => {
  const secret = 'a-test-secret-of-at-least-32-bytes!!';
  let clock = 1_700_000_000_000;
  const sut = (extra: Partial<ConstructorParameters<typeof DpopNonces>[0]> = {}) =>
    new DpopNonces({ secret, stepSeconds: 300, now: () => clock, ...extra });

  it('issues one nonce per step, the same on every instance sharing the secret', () => {
    const a = sut();
    const b = sut();
    const nonce = a.issue();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.issue()).toBe(nonce);
    expect(b.check(nonce)).toBe(true);
  });

  it('accepts the current and the previous step, not older ones', () => {
    clock = 1_700_000_100_000;
    const a = sut();
    const nonce = a.issue();
    clock += 300_000;
    expect(a.issue()).not.toBe(nonce);
    expect(a.check(nonce)).toBe(true);
    clock += 300_000;
    expect(a.check(nonce)).toBe(false);
  });

  it('refuses another secret, garbage and a nonce of the future', () => {
    const nonce = sut().issue();
    expect(sut({ secret: 'another-secret-of-at-least-32-bytes' }).check(nonce)).toBe(false);
    for (const bad of ['', 'A'.repeat(43), `${nonce}x`, nonce.slice(1), 'é'.repeat(43)])
      expect(sut().check(bad)).toBe(false);
    clock += 300_000;
    const future = sut().issue();
    clock -= 600_000;
    expect(sut().check(future)).toBe(false);
  });

  it('accepts what a rotated-out secret issued, and issues only with the new one', () => {
    const old = sut().issue();
    const rotated = sut({ secret: 'the-new-secret-of-at-least-32-bytes!', previousSecret: secret });
    expect(rotated.check(old)).toBe(true);
    expect(rotated.issue()).not.toBe(old);
    expect(sut().check(rotated.issue())).toBe(false);
  });

  it('refuses a short secret', () => {
    expect(() => new DpopNonces({ secret: 'short' })).toThrow(RangeError);
  });
});
