import type { VerifiedToken } from '@stepgate/identity';
import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config';
import { decide } from './decide';

const levels = ['urn:stepgate:acr:basic', 'urn:stepgate:acr:mfa', 'urn:stepgate:acr:phr'];
const now = 1_800_000_000;
const payments: RoutePolicy = {
  id: 'payments',
  path: '/api/payments/**',
  upstream: 'demo',
  decisions: { low: 'allow', medium: 'step_up', high: 'step_up', critical: 'deny' },
  stepUp: { acr: 'urn:stepgate:acr:mfa', maxAgeSeconds: 300 },
  onRiskUnavailable: 'deny',
  mode: 'enforce',
};
const token = (over: Partial<VerifiedToken> = {}): VerifiedToken => ({
  kind: 'access',
  subject: 'alice',
  issuer: 'i',
  acr: 'urn:stepgate:acr:basic',
  amr: ['pwd'],
  authTime: now - 10,
  sessionId: null,
  deviceId: null,
  jkt: null,
  riskLevel: null,
  expiresAt: now + 100,
  tokenId: null,
  claims: {},
  ...over,
});

describe(decide.name, () => {
  const sut = (level: Parameters<typeof decide>[0]['level'], t = token(), route = payments) =>
    decide({ route, level, token: t, acrLevels: levels, nowSeconds: now });

  it('follows the route decision for the risk level', () => {
    expect(sut('low').outcome).toBe('allow');
    expect(sut('medium')).toMatchObject({
      outcome: 'step_up',
      acr: 'urn:stepgate:acr:mfa',
      maxAgeSeconds: 300,
    });
    expect(sut('critical').outcome).toBe('deny');
  });

  it('fails closed when risk does not answer, unless the route says otherwise', () => {
    expect(sut(null).outcome).toBe('deny');
    expect(sut(null, token(), { ...payments, onRiskUnavailable: 'allow' }).outcome).toBe('allow');
  });

  it('lets a fresh stepped-up token through a step-up', () => {
    const stepped = token({ kind: 'stepup', acr: 'urn:stepgate:acr:mfa', authTime: now - 60 });
    expect(sut('medium', stepped).outcome).toBe('allow');
    expect(sut('medium', token({ acr: 'urn:stepgate:acr:phr' })).outcome).toBe('allow');
  });

  it('refuses a step-up whose authentication is too old, too weak or unknown', () => {
    expect(sut('medium', token({ acr: 'urn:stepgate:acr:mfa', authTime: now - 301 })).outcome).toBe(
      'step_up',
    );
    expect(sut('medium', token({ acr: 'urn:stepgate:acr:mfa', authTime: null })).outcome).toBe('step_up');
    expect(sut('medium', token({ acr: 'urn:other' })).outcome).toBe('step_up');
  });

  it("enforces each level's strength where the token is used", () => {
    const strict = {
      ...payments,
      stepUp: { ...payments.stepUp!, acrByLevel: { high: 'urn:stepgate:acr:phr' } },
    };
    const totp = token({ kind: 'stepup', acr: 'urn:stepgate:acr:mfa', authTime: now - 10 });
    const passkey = token({ kind: 'stepup', acr: 'urn:stepgate:acr:phr', authTime: now - 10 });
    expect(sut('medium', totp, strict)).toMatchObject({ outcome: 'allow', steppedUp: true });
    // A TOTP-minted (or an issuer's mfa) token is not enough at high: 401 naming the stronger acr.
    expect(sut('high', totp, strict)).toMatchObject({ outcome: 'step_up', acr: 'urn:stepgate:acr:phr' });
    expect(sut('high', token({ acr: 'urn:stepgate:acr:mfa' }), strict)).toMatchObject({
      outcome: 'step_up',
      acr: 'urn:stepgate:acr:phr',
    });
    expect(sut('high', passkey, strict).outcome).toBe('allow');
    // Risk unavailable with a step-up fail mode: the most the route asks at any level.
    const failStepUp = { ...strict, onRiskUnavailable: 'step_up' as const };
    expect(sut(null, totp, failStepUp)).toMatchObject({ outcome: 'step_up', acr: 'urn:stepgate:acr:phr' });
    expect(sut(null, passkey, failStepUp).outcome).toBe('allow');
  });

  it('never lets a stepped-up token past a deny', () => {
    expect(sut('critical', token({ acr: 'urn:stepgate:acr:phr' })).outcome).toBe('deny');
  });
});
