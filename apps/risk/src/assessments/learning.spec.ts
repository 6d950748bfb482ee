import type { RiskLevel } from '@stepgate/contracts';
import { describe, expect, it } from 'vitest';
import type { RouteView } from '@stepgate/policy';
import { learns, sighted, type LearningPolicyView } from './learning';

const MFA = 'urn:stepgate:acr:mfa';
const PHR = 'urn:stepgate:acr:phr';

const payments: RouteView = {
  id: 'payments',
  decisions: { low: 'allow', medium: 'step_up', high: 'step_up', critical: 'deny' },
  onRiskUnavailable: 'deny',
  mode: 'enforce',
  stepUp: { acr: MFA, maxAgeSeconds: 300, acrByLevel: { high: PHR } },
};
const reports: RouteView = {
  id: 'reports',
  decisions: { low: 'allow', medium: 'allow', high: 'allow', critical: 'deny' },
  onRiskUnavailable: 'allow',
  mode: 'enforce',
};
const POLICY: LearningPolicyView = {
  routes: new Map([payments, reports].map((r) => [r.id, r])),
  acrLevels: ['urn:stepgate:acr:basic', MFA, PHR],
};

/** What the gateway said it did (the fields learning may read), allowed on payments by default. */
const access = (over: Partial<Parameters<typeof learns>[0]> = {}): Parameters<typeof learns>[0] => ({
  decision: 'allow',
  route: 'payments',
  monitored: false,
  steppedUp: false,
  acr: null,
  ...over,
});

describe(learns.name, () => {
  it("learns an access the gateway forwarded at low risk, by risk's own score", () => {
    expect(learns(access(), 'low', POLICY, 5)).toBe(true);
    expect(learns(access({ route: 'reports' }), 'low', POLICY, 5)).toBe(true);
  });

  it('does not learn a riskier access a lenient route let through: familiarity is earned by a step-up', () => {
    // A copied device id calling reports from the attacker's network would otherwise make it familiar.
    expect(learns(access({ route: 'reports' }), 'medium', POLICY, 5)).toBe(false);
    expect(learns(access({ route: 'reports' }), 'high', POLICY, 5)).toBe(false);
    // A subject's first access has no normal to protect: it starts the history (an API client's included).
    expect(learns(access({ route: 'reports' }), 'medium', POLICY, 0)).toBe(true);
    expect(learns(access({ route: 'reports' }), 'critical', POLICY, 0)).toBe(false);
  });

  it('does not learn what the gateway did not forward', () => {
    for (const decision of ['step_up', 'deny', 'unauthenticated'] as const) {
      expect(learns(access({ decision }), 'low', POLICY, 5)).toBe(false);
    }
  });

  it("does not learn an access the gateway allowed (from its cache) where risk's own level steps up", () => {
    // The gateway's level is not even an input: a cached `low` for another context teaches nothing.
    expect(learns(access(), 'medium', POLICY, 5)).toBe(false);
    expect(learns(access({ route: 'reports' }), 'critical', POLICY, 5)).toBe(false);
  });

  it("learns a stepped-up access only when its acr meets what the route asks at risk's own level", () => {
    const stepped = (acr: string | null) => access({ steppedUp: true, acr });
    expect(learns(stepped(MFA), 'medium', POLICY, 5)).toBe(true);
    expect(learns(stepped(PHR), 'medium', POLICY, 5)).toBe(true);
    // At high the route asks for a phishing-resistant step-up: an mfa token (minted at medium) is not enough.
    expect(learns(stepped(MFA), 'high', POLICY, 5)).toBe(false);
    expect(learns(stepped(PHR), 'high', POLICY, 5)).toBe(true);
    expect(learns(stepped('urn:stepgate:acr:basic'), 'medium', POLICY, 5)).toBe(false);
    expect(learns(stepped(null), 'medium', POLICY, 5)).toBe(false);
    expect(learns(stepped('urn:other:acr'), 'medium', POLICY, 5)).toBe(false);
    // A strong acr without the gateway's word that the step-up was satisfied (max_age) teaches nothing.
    expect(learns(access({ acr: PHR }), 'medium', POLICY, 5)).toBe(false);
  });

  it('never learns where the route denies at its own level, stepped up or not', () => {
    expect(learns(access({ steppedUp: true, acr: PHR }), 'critical', POLICY, 5)).toBe(false);
  });

  it('does not learn a monitored access: enforcement would have stepped it up or denied it', () => {
    expect(learns(access({ route: 'reports', monitored: true }), 'low', POLICY, 5)).toBe(false);
  });

  it("does not learn StepGate's own API, a route the policy does not know, or no route", () => {
    for (const route of ['stepgate.challenge', 'retired-route', null]) {
      expect(learns(access({ route }), 'low', POLICY, 5)).toBe(false);
    }
  });

  it('does not learn a step-up when the acr levels are unknown (a policy without policy.acr)', () => {
    const levels: RiskLevel = 'medium';
    expect(learns(access({ steppedUp: true, acr: MFA }), levels, { ...POLICY, acrLevels: [] }, 5)).toBe(
      false,
    );
  });
});

describe(sighted.name, () => {
  it("sights a device where the route allows at risk's own level, not where it steps up or denies", () => {
    expect(sighted(access({ route: 'reports' }), 'medium', POLICY)).toBe(true);
    // Allowed by the gateway's cache, but payments steps up at risk's own medium: not even seen.
    expect(sighted(access(), 'medium', POLICY)).toBe(false);
    expect(sighted(access({ route: 'reports' }), 'critical', POLICY)).toBe(false);
    expect(sighted(access({ route: 'reports', monitored: true }), 'low', POLICY)).toBe(false);
    expect(sighted(access({ route: 'stepgate.challenge' }), 'low', POLICY)).toBe(false);
    expect(sighted(access({ route: 'reports', decision: 'step_up' }), 'low', POLICY)).toBe(false);
  });
});
