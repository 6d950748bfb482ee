import { describe, expect, it } from 'vitest';
import {
  base32Secret,
  codeAt,
  isFreshStep,
  matchStep,
  newTotpSecret,
  provisioningUri,
  type TotpSettings,
} from './totp';

const settings: TotpSettings = { issuer: 'StepGate', digits: 6, periodSeconds: 30, window: 1 };
const STEP = 30_000;
// Mid-step, so "one step away" is unambiguous.
const now = 1_764_300_015_000;
const stepOf = (ms: number) => Math.floor(ms / STEP);

describe('matchStep', () => {
  const secret = newTotpSecret();

  it('finds the step of a current code', () => {
    expect(matchStep(secret, codeAt(secret, now, settings), now, settings)).toBe(stepOf(now));
  });

  it('accepts one step either side for clock drift, and no further', () => {
    expect(matchStep(secret, codeAt(secret, now - STEP, settings), now, settings)).toBe(stepOf(now) - 1);
    expect(matchStep(secret, codeAt(secret, now + STEP, settings), now, settings)).toBe(stepOf(now) + 1);
    expect(matchStep(secret, codeAt(secret, now - 2 * STEP, settings), now, settings)).toBeNull();
    expect(matchStep(secret, codeAt(secret, now + 2 * STEP, settings), now, settings)).toBeNull();
  });

  it('accepts only the current step with window 0', () => {
    const strict = { ...settings, window: 0 };
    expect(matchStep(secret, codeAt(secret, now, strict), now, strict)).toBe(stepOf(now));
    expect(matchStep(secret, codeAt(secret, now + STEP, strict), now, strict)).toBeNull();
  });

  it('never widens the window past one step, whatever it is given', () => {
    const wide = { ...settings, window: 5 };
    expect(matchStep(secret, codeAt(secret, now - 3 * STEP, wide), now, wide)).toBeNull();
  });

  it('refuses anything that is not exactly the configured number of digits', () => {
    const code = codeAt(secret, now, settings);
    for (const bad of [code.slice(1), `${code}0`, ` ${code.slice(1)}`, '12345a', '', `+${code.slice(1)}`]) {
      expect(matchStep(secret, bad, now, settings)).toBeNull();
    }
  });

  it("refuses another secret's code", () => {
    expect(matchStep(newTotpSecret(), codeAt(secret, now, settings), now, settings)).toBeNull();
  });
});

describe('isFreshStep', () => {
  it('allows a step never used, or later than the last one used', () => {
    expect(isFreshStep(null, 100)).toBe(true);
    expect(isFreshStep(99, 100)).toBe(true);
  });

  it('refuses the same step again, and any earlier step', () => {
    expect(isFreshStep(100, 100)).toBe(false);
    expect(isFreshStep(101, 100)).toBe(false);
  });
});

describe('provisioning', () => {
  it('gives the secret in base32 and an otpauth URI authenticator apps read', () => {
    const secret = newTotpSecret();
    expect(secret).toHaveLength(20);
    const uri = new URL(provisioningUri(secret, 'alice@example.com', settings));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(base32Secret(secret));
    expect(uri.searchParams.get('issuer')).toBe('StepGate');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
  });
});
