import type { AssessRiskRequest, RiskAssessment } from '@stepgate/contracts';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../config';
import { GatewayMetrics } from '../health/gateway.metrics';
import type { GatewayPolicyService } from '../policy/gateway-policy.service';
import { RiskClient, UnassessableContext, type RiskContext } from './risk.client';
import { RiskRequestError, type RiskTransport } from './risk.transport';

/** A transport whose answers the test releases: each request waits for `answer` or `fail`. */
class ScriptedTransport implements RiskTransport {
  readonly path = 'direct';
  readonly asked: AssessRiskRequest[] = [];
  private waiting: {
    resolve: (a: RiskAssessment) => void;
    reject: (e: Error) => void;
    req: AssessRiskRequest;
  }[] = [];

  assess(request: AssessRiskRequest): Promise<RiskAssessment> {
    this.asked.push(request);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject, req: request }));
  }

  answer(level: RiskAssessment['level'] = 'low'): void {
    for (const w of this.waiting.splice(0)) w.resolve(assessment(w.req, level));
  }

  /** An answer about another subject: valid by contract, wrong for the question. */
  answerAbout(subject: string): void {
    for (const w of this.waiting.splice(0)) w.resolve({ ...assessment(w.req, 'low'), subject });
  }

  fail(): void {
    for (const w of this.waiting.splice(0)) w.reject(new RiskRequestError('timeout', 'no answer'));
  }
}

const assessment = (req: AssessRiskRequest, level: RiskAssessment['level']): RiskAssessment => ({
  assessmentId: '00000000-0000-4000-8000-000000000000',
  time: new Date(0).toISOString(),
  correlationId: req.correlationId,
  causationId: null,
  subject: req.subject,
  deviceId: req.deviceId,
  score: level === 'low' ? 5 : 45,
  level,
  signals: [],
  deviceStatus: 'seen',
  modelVersion: 't',
});

const ctx = (over: Partial<RiskContext> = {}): RiskContext => ({
  correlationId: '00000000-0000-4000-8000-000000000001',
  subject: 'alice',
  deviceId: 'd1',
  deviceSource: 'header',
  clientIp: '10.1.2.3',
  userAgent: 'agent/1',
  route: 'payments',
  ...over,
});

function setup(negativeCacheMs = 1000) {
  const transport = new ScriptedTransport();
  const metrics = new GatewayMetrics();
  const listeners: (() => void)[] = [];
  const policy = { onChange: (l: () => void) => listeners.push(l) } as unknown as GatewayPolicyService;
  const config = {
    gateway: { risk: { timeoutMs: 500, cacheTtlSeconds: 60, negativeCacheMs } },
  } as unknown as GatewayConfig;
  const sut = new RiskClient(transport, metrics, config, policy);
  const count = async (name: string, labels: Record<string, string>) => {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    return (metric?.values ?? [])
      .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
      .reduce((sum, v) => sum + v.value, 0);
  };
  return { sut, transport, count, newPolicy: () => listeners.forEach((l) => l()) };
}

describe(RiskClient.name, () => {
  it('refuses to put to risk what its contract refuses, rather than let it read as risk unavailable', async () => {
    const { sut, transport } = setup();
    await expect(sut.assess(ctx({ subject: 's'.repeat(300) }))).rejects.toBeInstanceOf(UnassessableContext);
    await expect(sut.assess(ctx({ deviceId: 'd\u0000' }))).rejects.toThrow(/cannot be assessed \(deviceId\)/);
    expect(transport.asked).toEqual([]);
  });

  it('asks again once a new policy version applies, even a context risk did not answer a moment ago', async () => {
    const { sut, transport, newPolicy } = setup();
    const first = sut.assess(ctx());
    transport.fail();
    expect(await first).toBeNull();
    expect(await sut.assess(ctx())).toBeNull();
    expect(transport.asked).toHaveLength(1);
    newPolicy();
    const again = sut.assess(ctx());
    transport.answer('low');
    expect((await again)?.level).toBe('low');
    expect(transport.asked).toHaveLength(2);
  });

  it('asks risk once for concurrent misses of the same inputs, and once per other inputs', async () => {
    const { sut, transport, count } = setup();
    const same = Array.from({ length: 10 }, () => sut.assess(ctx({ clientIp: '10.1.2.99' })));
    const other = sut.assess(ctx({ userAgent: 'agent/2' }));
    await sleep(0);
    expect(transport.asked).toHaveLength(2);
    transport.answer();
    const answers = await Promise.all(same);
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toMatchObject({ subject: 'alice', level: 'low' });
    expect(await other).toMatchObject({ level: 'low' });
    expect(await count('stepgate_gateway_risk_misses_total', { outcome: 'requested' })).toBe(2);
    expect(await count('stepgate_gateway_risk_misses_total', { outcome: 'coalesced' })).toBe(9);
    expect(await count('stepgate_gateway_risk_requests_total', { path: 'direct', result: 'answered' })).toBe(
      2,
    );
    expect(await count('stepgate_gateway_risk_lookups_total', { source: 'risk' })).toBe(11);
    // Then from the cache, without asking.
    expect(await sut.assess(ctx({ clientIp: '10.1.2.99' }))).toBe(answers[0]);
    expect(transport.asked).toHaveLength(2);
  });

  it('gives every waiter null when risk does not answer, and does not ask again for negativeCacheMs', async () => {
    const { sut, transport, count } = setup(100);
    const waiting = Promise.all([sut.assess(ctx()), sut.assess(ctx())]);
    await sleep(0);
    transport.fail();
    expect(await waiting).toEqual([null, null]);
    expect(await sut.assess(ctx())).toBeNull();
    expect(transport.asked).toHaveLength(1);
    expect(await count('stepgate_gateway_risk_misses_total', { outcome: 'negative_cache' })).toBe(1);
    expect(await count('stepgate_gateway_risk_requests_total', { path: 'direct', result: 'timeout' })).toBe(
      1,
    );
    expect(await count('stepgate_gateway_risk_lookups_total', { source: 'unavailable' })).toBe(3);
    // Other inputs are asked meanwhile; these once the entry lapsed.
    const other = sut.assess(ctx({ route: 'reports' }));
    await sleep(0);
    expect(transport.asked).toHaveLength(2);
    await sleep(120);
    const again = sut.assess(ctx());
    await sleep(0);
    expect(transport.asked).toHaveLength(3);
    transport.answer('medium');
    expect(await again).toMatchObject({ level: 'medium' });
    expect(await other).toMatchObject({ level: 'medium' });
  });

  it('asks every time with a negative cache of 0', async () => {
    const { sut, transport } = setup(0);
    const first = sut.assess(ctx());
    await sleep(0);
    transport.fail();
    expect(await first).toBeNull();
    void sut.assess(ctx());
    await sleep(0);
    expect(transport.asked).toHaveLength(2);
    transport.fail();
  });

  it('does not cache an answer to a question asked under an older policy version', async () => {
    const { sut, transport, newPolicy } = setup();
    const pending = sut.assess(ctx());
    await sleep(0);
    newPolicy();
    transport.answer();
    expect(await pending).toMatchObject({ level: 'low' });
    void sut.assess(ctx());
    await sleep(0);
    expect(transport.asked).toHaveLength(2);
    transport.answer();
  });

  it('does not cache an answer asked for before a decision change arrived, and asks afresh after a new policy', async () => {
    const { sut, transport, newPolicy } = setup();
    const pending = sut.assess(ctx());
    await sleep(0);
    // A failed challenge (say) drops the subject's decisions while the question is out.
    sut.cache.apply({
      changeId: '00000000-0000-4000-8000-000000000009',
      time: new Date(0).toISOString(),
      correlationId: '00000000-0000-4000-8000-000000000008',
      causationId: '00000000-0000-4000-8000-000000000007',
      cause: 'challenge_outcome',
      scope: 'subject',
      subject: 'alice',
      deviceId: null,
      level: null,
    });
    transport.answer();
    expect(await pending).toMatchObject({ level: 'low' });
    void sut.assess(ctx());
    await sleep(0);
    expect(transport.asked).toHaveLength(2);
    // A miss after a new policy version does not join the question asked under the old one.
    newPolicy();
    void sut.assess(ctx());
    await sleep(0);
    expect(transport.asked).toHaveLength(3);
    transport.answer();
  });

  it('takes an answer about another subject for no answer, whatever the transport', async () => {
    const { sut, transport, count } = setup();
    const pending = sut.assess(ctx());
    await sleep(0);
    transport.answerAbout('bob');
    expect(await pending).toBeNull();
    expect(await count('stepgate_gateway_risk_requests_total', { result: 'invalid' })).toBe(1);
    expect(sut.cache.size).toBe(0);
  });
});
