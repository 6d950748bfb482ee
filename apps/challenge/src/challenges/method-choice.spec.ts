import { describe, expect, it } from 'vitest';
import { attestedAcr, chooseMethods, type AttestationInput, type MethodChoiceInput } from './method-choice';

const MFA = 'urn:stepgate:acr:mfa';
const PHR = 'urn:stepgate:acr:phr';
const base: MethodChoiceInput = {
  level: 'medium',
  requiredAcr: MFA,
  acrLevels: ['urn:stepgate:acr:basic', MFA, 'urn:stepgate:acr:phr'],
  policy: { low: ['totp'], medium: ['totp'], high: ['totp'], critical: [] },
  methodAcr: { totp: MFA, webauthn: PHR, recovery_code: MFA },
  enrolled: ['totp'],
};

describe(chooseMethods.name, () => {
  it('offers the methods policy allows at the level and the subject enrolled', () => {
    expect(chooseMethods(base)).toEqual({ status: 'open', methods: ['totp'] });
  });

  it('denies when policy allows nothing at the level (critical)', () => {
    expect(chooseMethods({ ...base, level: 'critical' })).toMatchObject({
      status: 'denied',
      reason: expect.stringMatching(/critical/),
    });
  });

  it('asks for enrolment when allowed methods are not enrolled', () => {
    expect(chooseMethods({ ...base, enrolled: [] })).toMatchObject({
      status: 'enrolment_required',
      reason: 'add an authenticator app (totp) to continue',
      methods: ['totp'],
    });
  });

  it('never lets a method attest more than it can (TOTP is not phishing-resistant)', () => {
    expect(chooseMethods({ ...base, requiredAcr: 'urn:stepgate:acr:phr' })).toMatchObject({
      status: 'denied',
    });
    expect(chooseMethods({ ...base, requiredAcr: 'urn:stepgate:acr:basic' })).toEqual({
      status: 'open',
      methods: ['totp'],
    });
  });

  it('denies an acr the policy does not know', () => {
    expect(chooseMethods({ ...base, requiredAcr: 'urn:other' })).toMatchObject({ status: 'denied' });
  });

  it('offers only the intersection', () => {
    const wider = {
      ...base,
      policy: { ...base.policy, high: ['totp' as const] },
      level: 'high' as const,
      enrolled: ['totp' as const, 'webauthn' as const],
    };
    expect(chooseMethods(wider)).toEqual({ status: 'open', methods: ['totp'] });
  });

  it('asks for a passkey, never a weaker factor, where policy wants one (high risk or a phishing-resistant acr)', () => {
    const adaptive = {
      ...base,
      policy: {
        low: ['webauthn' as const, 'totp' as const, 'recovery_code' as const],
        medium: ['webauthn' as const, 'totp' as const, 'recovery_code' as const],
        high: ['webauthn' as const],
        critical: [],
      },
      enrolled: ['totp' as const, 'recovery_code' as const],
    };
    expect(chooseMethods(adaptive)).toEqual({ status: 'open', methods: ['totp', 'recovery_code'] });
    expect(chooseMethods({ ...adaptive, level: 'high' })).toEqual({
      status: 'enrolment_required',
      reason: 'add a passkey (webauthn) to continue',
      methods: ['webauthn'],
    });
    expect(chooseMethods({ ...adaptive, requiredAcr: PHR })).toMatchObject({ status: 'enrolment_required' });
    expect(chooseMethods({ ...adaptive, enrolled: ['webauthn', 'totp'], requiredAcr: PHR })).toEqual({
      status: 'open',
      methods: ['webauthn'],
    });
    expect(chooseMethods({ ...adaptive, level: 'critical', enrolled: ['webauthn'] })).toMatchObject({
      status: 'denied',
    });
  });

  it('never suggests enrolling recovery codes', () => {
    const onlyCodes = {
      ...base,
      policy: { ...base.policy, medium: ['recovery_code' as const] },
      enrolled: [],
    };
    expect(chooseMethods(onlyCodes)).toMatchObject({
      status: 'denied',
      reason: expect.stringMatching(/recovery/),
    });
  });

  it('names the methods to enrol strongest first, never recovery codes, so the hint leads to a passkey', () => {
    const nothingYet = {
      ...base,
      // Policy order puts the weaker method first: the answer still leads with the passkey.
      policy: { ...base.policy, medium: ['totp' as const, 'recovery_code' as const, 'webauthn' as const] },
      enrolled: [],
    };
    expect(chooseMethods(nothingYet)).toEqual({
      status: 'enrolment_required',
      reason: 'add a passkey or an authenticator app (webauthn, totp) to continue',
      methods: ['webauthn', 'totp'],
    });
  });
});

describe(attestedAcr.name, () => {
  const input: AttestationInput = {
    method: 'totp',
    userVerified: false,
    requiredAcr: MFA,
    acrLevels: base.acrLevels,
    methodAcr: base.methodAcr,
    userVerificationAcr: PHR,
  };

  it('attests what the method can, not only what the challenge asked for', () => {
    expect(attestedAcr(input)).toBe(MFA);
    expect(attestedAcr({ ...input, method: 'recovery_code' })).toBe(MFA);
    expect(attestedAcr({ ...input, method: 'webauthn', userVerified: true })).toBe(PHR);
    expect(attestedAcr({ ...input, requiredAcr: 'urn:stepgate:acr:basic' })).toBe(MFA);
  });

  it('attests a passkey without user verification below the level that needs it', () => {
    expect(attestedAcr({ ...input, method: 'webauthn', userVerified: false })).toBe(MFA);
    expect(attestedAcr({ ...input, method: 'webauthn', userVerified: false, requiredAcr: PHR })).toBeNull();
  });

  it('attests nothing a method cannot reach, nor an unknown acr', () => {
    expect(attestedAcr({ ...input, requiredAcr: PHR })).toBeNull();
    expect(attestedAcr({ ...input, requiredAcr: 'urn:other' })).toBeNull();
    expect(attestedAcr({ ...input, methodAcr: { ...base.methodAcr, totp: 'urn:other' } })).toBeNull();
    expect(
      attestedAcr({
        ...input,
        method: 'webauthn',
        userVerified: false,
        userVerificationAcr: 'urn:stepgate:acr:basic',
      }),
    ).toBeNull();
  });
});
