// Valid example payloads for every contract, for tests.
import { randomUUID } from 'node:crypto';
import type { EventOf, ReplyOf, RequestOf, RiskLevel } from '@stepgate/contracts';

const now = () => new Date().toISOString();

export const factories = {
  access: (over: Partial<EventOf<'stepgate.access.v3'>> = {}): EventOf<'stepgate.access.v3'> => ({
    eventId: randomUUID(),
    time: now(),
    correlationId: randomUUID(),
    subject: 'alice',
    sessionId: null,
    deviceId: 'dev-1',
    deviceSource: 'header',
    clientIp: '203.0.113.7',
    userAgent: 'test-agent/1.0',
    method: 'GET',
    host: 'localhost',
    path: '/api/reports/1',
    route: 'reports',
    decision: 'allow',
    reason: 'risk low',
    status: 200,
    riskScore: 10,
    riskLevel: 'low',
    acr: null,
    policyVersion: null,
    monitored: false,
    steppedUp: false,
    ...over,
  }),
  /**
   * An access risk learns whatever it scores short of critical: forwarded on a route that always steps up
   * (the default policy's `admin`), with a fresh phishing-resistant step-up (docs/RISK.md, what risk learns).
   */
  steppedUpAccess: (over: Partial<EventOf<'stepgate.access.v3'>> = {}): EventOf<'stepgate.access.v3'> =>
    factories.access({
      path: '/api/admin/1',
      route: 'admin',
      steppedUp: true,
      acr: 'urn:stepgate:acr:phr',
      ...over,
    }),
  assessment: (
    over: Partial<EventOf<'stepgate.risk.assessment.v1'>> = {},
  ): EventOf<'stepgate.risk.assessment.v1'> => ({
    assessmentId: randomUUID(),
    time: now(),
    correlationId: randomUUID(),
    causationId: null,
    subject: 'alice',
    deviceId: 'dev-1',
    score: 50,
    level: 'medium',
    signals: [{ name: 'new_device', weight: 50, detail: 'device dev-1 never seen' }],
    deviceStatus: 'unknown',
    modelVersion: 'test',
    ...over,
  }),
  decisionChange: (
    over: Partial<EventOf<'stepgate.risk.decision.v1'>> = {},
  ): EventOf<'stepgate.risk.decision.v1'> => ({
    changeId: randomUUID(),
    time: now(),
    correlationId: randomUUID(),
    causationId: randomUUID(),
    cause: 'access',
    scope: 'device',
    subject: 'alice',
    deviceId: 'dev-1',
    level: 'medium',
    ...over,
  }),
  outcome: (
    over: Partial<EventOf<'stepgate.challenge.outcome.v1'>> = {},
  ): EventOf<'stepgate.challenge.outcome.v1'> => ({
    challengeId: randomUUID(),
    time: now(),
    correlationId: randomUUID(),
    subject: 'alice',
    deviceId: 'dev-1',
    method: 'totp',
    result: 'passed',
    attemptsLeft: 4,
    ...over,
  }),
  factorChanged: (
    over: Partial<EventOf<'stepgate.factor.changed.v1'>> = {},
  ): EventOf<'stepgate.factor.changed.v1'> => ({
    eventId: randomUUID(),
    time: now(),
    correlationId: randomUUID(),
    subject: 'alice',
    deviceId: 'dev-1',
    factorId: randomUUID(),
    method: 'totp',
    change: 'enrolled',
    ...over,
  }),
  assessRequest: (
    over: Partial<RequestOf<'stepgate.risk.assess.v2'>> = {},
  ): RequestOf<'stepgate.risk.assess.v2'> => ({
    correlationId: randomUUID(),
    subject: 'alice',
    deviceId: 'dev-1',
    deviceSource: 'header',
    clientIp: '203.0.113.7',
    userAgent: 'test-agent/1.0',
    route: 'payments',
    ...over,
  }),
};

const SCRIPTED_SCORES: Record<RiskLevel, number> = { low: 5, medium: 45, high: 70, critical: 95 };

/** What a scripted risk answers an assess request with: the given level, one signal saying so. */
export function scriptedRiskReply(
  req: { subject: string; deviceId: string | null; correlationId: string },
  level: RiskLevel,
): ReplyOf<'stepgate.risk.assess.v2'> {
  const score = SCRIPTED_SCORES[level];
  return {
    assessmentId: randomUUID(),
    time: now(),
    correlationId: req.correlationId,
    causationId: null,
    subject: req.subject,
    deviceId: req.deviceId,
    score,
    level,
    signals: [{ name: 'scripted', weight: score, detail: `scripted ${level}` }],
    deviceStatus: 'seen',
    modelVersion: 'test',
  };
}

/** What a stand-in challenge service answers a create request with: an open TOTP challenge. */
export function openChallengeReply(): ReplyOf<'stepgate.challenge.create.v2'> {
  return {
    status: 'open',
    challengeId: randomUUID(),
    methods: ['totp'],
    expiresAt: new Date(Date.now() + 300_000).toISOString(),
  };
}
