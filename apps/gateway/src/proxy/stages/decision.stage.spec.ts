import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { RiskAssessment, RiskLevel } from '@stepgate/contracts';
import type { VerifiedToken } from '@stepgate/identity';
import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../../config';
import type { GatewayMetrics } from '../../health/gateway.metrics';
import { UnassessableContext, type RiskClient, type RiskContext } from '../../risk/risk.client';
import { DecisionStage } from './decision.stage';
import type { Identity } from './identity.stage';
import type { RequestContext } from './judgement';

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
const token: VerifiedToken = {
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
  claims: { groups: ['staff'] },
};
const who: Identity = {
  credential: { scheme: 'bearer', token: 't' },
  device: { deviceId: 'd1', source: 'header' },
  browserDevice: null,
  session: null,
  deviceId: 'd1',
  deviceSource: 'header',
  cookies: [],
};

function setup(answer: RiskLevel | Error) {
  const asked: RiskContext[] = [];
  const counted: Record<string, string>[] = [];
  const risk = {
    assess: async (c: RiskContext): Promise<RiskAssessment | null> => {
      asked.push(c);
      if (answer instanceof Error) throw answer;
      return { score: 50, level: answer, signals: [] } as unknown as RiskAssessment;
    },
  } as unknown as RiskClient;
  const metrics = {
    monitored: { inc: (l: Record<string, string>) => counted.push(l) },
  } as unknown as GatewayMetrics;
  const raw = new IncomingMessage(new Socket());
  raw.headers = { 'user-agent': 'app/1' };
  const ctx: RequestContext = {
    raw,
    correlationId: 'c1',
    clientIp: '203.0.113.7',
    proto: 'http',
    started: 0,
  };
  const sut = new DecisionStage(risk, metrics);
  return { asked, counted, decide: (route: RoutePolicy) => sut.decide(ctx, route, token, who, levels, now) };
}

describe(DecisionStage.name, () => {
  it('asks risk for exactly the scored inputs and follows the route for its level', async () => {
    const { asked, decide } = setup('medium');
    const d = await decide(payments);
    expect(asked).toEqual([
      {
        correlationId: 'c1',
        subject: 'alice',
        deviceId: 'd1',
        deviceSource: 'header',
        clientIp: '203.0.113.7',
        userAgent: 'app/1',
        route: 'payments',
      },
    ]);
    expect(d.decision).toMatchObject({ outcome: 'step_up', acr: 'urn:stepgate:acr:mfa' });
    expect(d.facts).toMatchObject({ monitored: false, steppedUp: false, risk: { level: 'medium' } });
  });

  it('forwards what a monitored route would step up, and says so in the reason and the metric', async () => {
    const { counted, decide } = setup('medium');
    const d = await decide({ ...payments, mode: 'monitor' });
    expect(d.decision.outcome).toBe('allow');
    expect(d.facts).toMatchObject({
      monitored: true,
      reason: expect.stringMatching(/^monitor: would step_up/),
    });
    expect(counted).toEqual([{ route: 'payments', decision: 'step_up' }]);
  });

  it('never lets a monitored route through for someone its require refuses, and does not ask risk', async () => {
    const { asked, counted, decide } = setup('low');
    const d = await decide({ ...payments, mode: 'monitor', require: { groups: ['finance'] } });
    expect(d.decision).toMatchObject({ outcome: 'deny', reason: 'not in a required group' });
    expect(d.facts.monitored).toBe(false);
    expect(asked).toHaveLength(0);
    expect(counted).toHaveLength(0);
  });

  it('denies a context risk refuses to assess, with its reason; other failures are not decisions', async () => {
    expect(
      (await setup(new UnassessableContext('context not assessable')).decide(payments)).decision,
    ).toEqual({
      outcome: 'deny',
      reason: 'context not assessable',
    });
    await expect(setup(new Error('boom')).decide(payments)).rejects.toThrow('boom');
  });
});
