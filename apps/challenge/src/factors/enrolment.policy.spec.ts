import type { VerifiedToken } from '@stepgate/identity';
import { describe, expect, it } from 'vitest';
import {
  activationNeedsStepUp,
  decideEnrolment,
  isFreshStepUp,
  type StepUpRequirement,
} from './enrolment.policy';

const MFA = 'urn:stepgate:acr:mfa';
const requirement: StepUpRequirement = {
  acrLevels: ['urn:stepgate:acr:basic', MFA, 'urn:stepgate:acr:phr'],
  acr: MFA,
  maxAgeSeconds: 300,
  clockSkewSeconds: 30,
};
const nowMs = 1_764_300_000_000;
const now = nowMs / 1000;

function token(over: Partial<VerifiedToken> = {}): VerifiedToken {
  return {
    kind: 'stepup',
    subject: 'alice',
    issuer: 'urn:stepgate:challenge',
    acr: MFA,
    amr: ['otp'],
    authTime: now - 10,
    sessionId: null,
    deviceId: 'laptop',
    jkt: null,
    riskLevel: null,
    expiresAt: now + 290,
    tokenId: 'j1',
    claims: {},
    ...over,
  };
}

describe(isFreshStepUp.name, () => {
  it('accepts a recent stepped-up token at the required acr or above, from this device', () => {
    expect(isFreshStepUp(token(), 'laptop', requirement, nowMs)).toBe(true);
    expect(isFreshStepUp(token({ acr: 'urn:stepgate:acr:phr' }), 'laptop', requirement, nowMs)).toBe(true);
  });

  it.each([
    ['an access token', token({ kind: 'access' })],
    ['a weaker acr', token({ acr: 'urn:stepgate:acr:basic' })],
    ['an unknown acr', token({ acr: 'urn:someone-else' })],
    ['no acr', token({ acr: null })],
    ['no auth_time', token({ authTime: null })],
    ['an old authentication', token({ authTime: now - 301 })],
    ['an authentication from the future', token({ authTime: now + 120 })],
    ['another device', token({ deviceId: 'phone' })],
    ['no device', token({ deviceId: null })],
  ])('refuses %s', (_name, t) => {
    expect(isFreshStepUp(t, 'laptop', requirement, nowMs)).toBe(false);
  });
});

describe(decideEnrolment.name, () => {
  const input = {
    hasActiveFactor: false,
    token: token({ kind: 'access', acr: null }),
    deviceId: 'laptop',
    requirement,
    firstFactorMaxAuthAgeSeconds: 900,
    nowMs,
  };

  it('applies the first-factor policy when the subject has no active factor', () => {
    expect(decideEnrolment({ ...input, policy: 'any-device' })).toEqual({
      outcome: 'allow',
      authorisation: 'first_factor:any-device',
    });
    expect(decideEnrolment({ ...input, policy: 'seen-device' })).toEqual({ outcome: 'check_device' });
    expect(decideEnrolment({ ...input, policy: 'never' })).toEqual({ outcome: 'closed' });
  });

  it('refuses a first factor behind an old, missing or future sign-in, so a stolen token cannot enrol one', () => {
    for (const policy of ['any-device', 'seen-device'] as const) {
      for (const authTime of [now - 901, null, now + 120]) {
        expect(
          decideEnrolment({ ...input, policy, token: token({ kind: 'access', acr: null, authTime }) }),
        ).toEqual({
          outcome: 'reauthentication_required',
        });
      }
    }
    expect(decideEnrolment({ ...input, policy: 'never', token: token({ authTime: null }) })).toEqual({
      outcome: 'closed',
    });
  });

  it('needs a fresh step-up once a factor is active, whatever the first-factor policy', () => {
    for (const policy of ['any-device', 'seen-device', 'never'] as const) {
      expect(decideEnrolment({ ...input, hasActiveFactor: true, policy })).toEqual({
        outcome: 'step_up_required',
      });
      expect(decideEnrolment({ ...input, hasActiveFactor: true, policy, token: token() })).toEqual({
        outcome: 'allow',
        authorisation: 'step_up',
      });
    }
  });
});

describe(activationNeedsStepUp.name, () => {
  it('asks for a step-up when a first-factor enrolment has been overtaken by another active factor', () => {
    expect(activationNeedsStepUp('first_factor:seen-device', true)).toBe(true);
    expect(activationNeedsStepUp('first_factor:seen-device', false)).toBe(false);
    expect(activationNeedsStepUp('step_up', true)).toBe(false);
  });
});
