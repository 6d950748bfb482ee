// Backtesting through the real risk service: access events go through the in-process bus and are scored and
// recorded as in production, then POST /admin/policy/simulate replays them under candidates, on SQLite and
// PostgreSQL. Expectations are computed independently from what risk published for each access.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConsoleLogger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readRuntimeEnv } from '@stepgate/config';
import { TOPICS, type AccessEvent, type RiskAssessment, type RiskLevel } from '@stepgate/contracts';
import { inProcessBroker, MessageBus } from '@stepgate/kafka';
import { loadRouteViews } from '@stepgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { BacktestReport } from '../../apps/risk/src/backtest/backtest.engine';
import { recordedDecisions } from '../../apps/risk/src/backtest/recorded-decisions';
import { RISK_DB } from '../../apps/risk/src/database/risk.data-source';
import { loadRiskConfig, type RiskConfig } from '../../apps/risk/src/config';
import { createRiskApp } from '../../apps/risk/src/risk.bootstrap';
import { factories } from '../support/factories';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';

const HOME = '81.2.69.142';
const NEAR = '81.2.70.9';
const ABROAD = '8.8.8.8';
const CONFIG = resolve(__dirname, '../../config/stepgate.yaml');

type Decision = 'allow' | 'step_up' | 'deny';

function levelFor(score: number, t: RiskConfig['thresholds']): RiskLevel {
  return score >= t.critical ? 'critical' : score >= t.high ? 'high' : score >= t.medium ? 'medium' : 'low';
}

describe.each(databaseBackends())('policy simulation on %s', (backend) => {
  let app: NestFastifyApplication;
  let base: string;
  let db: TestDatabase | undefined;
  let config: RiskConfig;
  const routes = new Map(loadRouteViews({ configFile: CONFIG, env: {} }).map((r) => [r.id, r]));
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-backtest-'));
  const captureGroup = `backtest-capture-${randomUUID()}`;
  const published = new Map<string, RiskAssessment>();
  const accesses: AccessEvent[] = [];
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    if (backend === 'postgres') db = await createTestDatabase();
    inProcessBroker.subscribe(TOPICS.riskAssessment, captureGroup, async (m) => {
      const a = JSON.parse(m.value) as RiskAssessment;
      if (a.causationId) published.set(a.causationId, a);
    });
    const runtime = readRuntimeEnv({
      STEPGATE_CONFIG: CONFIG,
      STEPGATE_RISK_PORT: '0',
      STEPGATE_DATA_DIR: dataDir,
      DATABASE_URL: db?.url,
      STEPGATE_INSTANCE_ID: `backtest-${run}`,
    });
    config = { ...loadRiskConfig(runtime), reload: { watch: false, debounceMs: 0 } };
    app = await createRiskApp(runtime, new ConsoleLogger('risk', { logLevels: ['error'] }), config);
    base = await app.getUrl();

    // Per subject: a first access from a new device (on reports: allowed at medium), a passed challenge
    // that confirms the device, four accesses from home, one from a nearby network, one from abroad.
    const bus = app.get(MessageBus);
    const send = async (e: AccessEvent) => {
      accesses.push(e);
      await bus.publish(TOPICS.access, e);
      await inProcessBroker.drain();
    };
    for (let s = 0; s < 4; s++) {
      const subject = `bt-${run}-${s}`;
      const access = (clientIp: string, route: string, decision: Decision = 'allow') =>
        factories.access({ subject, deviceId: 'd-1', clientIp, route, decision, userAgent: 'Mozilla/5.0' });
      await send(access(HOME, 'reports'));
      await bus.publish(
        TOPICS.challengeOutcome,
        factories.outcome({ subject, deviceId: 'd-1', result: 'passed' }),
      );
      await inProcessBroker.drain();
      for (let i = 0; i < 4; i++) await send(access(HOME, 'payments'));
      await send(access(NEAR, 'payments'));
      await send(access(ABROAD, 'payments', 'step_up'));
    }
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    inProcessBroker.unsubscribeGroup(captureGroup);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function simulate(
    body: unknown,
  ): Promise<{ status: number; body: BacktestReport & { problems?: string[] } }> {
    const res = await fetch(`${base}/admin/policy/simulate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as BacktestReport & { problems?: string[] } };
  }

  /** What each side should decide, from the scores risk published. */
  function expected(
    candidateScore: (a: RiskAssessment, e: AccessEvent) => number,
    thresholds = config.thresholds,
  ) {
    const counts = {
      inForce: { allow: 0, step_up: 0, deny: 0 },
      candidate: { allow: 0, step_up: 0, deny: 0 },
    };
    const changed: string[] = [];
    const challenged = new Map<string, [boolean, boolean]>();
    for (const e of accesses) {
      const a = published.get(e.eventId)!;
      const route = routes.get(e.route!)!;
      const before = route.decisions[a.level];
      const after = route.decisions[levelFor(candidateScore(a, e), thresholds)];
      counts.inForce[before]++;
      counts.candidate[after]++;
      if (before !== after) changed.push(e.subject!);
      const c = challenged.get(e.subject!) ?? [false, false];
      challenged.set(e.subject!, [c[0] || before !== 'allow', c[1] || after !== 'allow']);
    }
    const newly = [...challenged].filter(([, [x, y]]) => !x && y).map(([s]) => s);
    return { counts, changed, newly };
  }

  it('recorded every access, and the policy in force reproduces every recorded score', async () => {
    expect(accesses.filter((e) => !published.has(e.eventId))).toEqual([]);
    const { status, body } = await simulate({ candidate: {} });
    expect(status).toBe(200);
    expect(body.events).toEqual({
      considered: accesses.length,
      notReweighable: 0,
      unknownRoute: 0,
      inForceDiffersFromRecorded: 0,
    });
    const { counts } = expected((a) => a.score);
    expect(body.inForce).toMatchObject(counts.inForce);
    expect(body.candidate).toEqual(body.inForce);
    expect(body.changed.decisions).toBe(0);
  });

  it('a lower medium threshold steps up the low but not riskless accesses', async () => {
    const lowScores = accesses
      .map((e) => published.get(e.eventId)!)
      .filter((a) => a.level === 'low' && a.score > 0)
      .map((a) => a.score);
    expect(lowScores.length).toBeGreaterThan(0);
    const medium = Math.min(...lowScores);
    const thresholds = { ...config.thresholds, medium };
    const want = expected((a) => a.score, thresholds);
    expect(want.changed.length).toBeGreaterThan(0);

    const { status, body } = await simulate({ candidate: { risk: { thresholds: { medium } } }, sample: 3 });
    expect(status).toBe(200);
    expect(body.inForce).toMatchObject(want.counts.inForce);
    expect(body.candidate).toMatchObject(want.counts.candidate);
    expect(body.changed).toMatchObject({
      decisions: want.changed.length,
      stricter: want.changed.length,
      laxer: 0,
    });
    expect(body.routes.payments!.candidate.step_up).toBe(want.counts.candidate.step_up);
    expect(body.subjects.newlyChallenged.count).toBe(want.newly.length);
    expect(body.sample).toHaveLength(Math.min(3, want.changed.length));
    for (const s of body.sample) {
      expect(s.inForce).toMatchObject({ level: 'low', decision: 'allow' });
      expect(s.candidate).toMatchObject({ level: 'medium', decision: 'step_up', score: s.inForce.score });
      expect(s.candidate.score).toBeGreaterThanOrEqual(medium);
      expect(s.candidate.signals.some((x) => x.weight > 0)).toBe(true);
    }
  });

  it('a bad IP range denies or steps up the accesses from it, and explains why', async () => {
    const badIp = config.weights.badIp;
    const want = expected((a, e) => (e.clientIp === ABROAD ? Math.min(100, a.score + badIp) : a.score));
    const { status, body } = await simulate({ candidate: { risk: { lists: { badIps: ['8.8.8.0/24'] } } } });
    expect(status).toBe(200);
    expect(body.candidate).toMatchObject(want.counts.candidate);
    expect(body.changed.decisions).toBe(want.changed.length);
    expect(body.signals.bad_ip!.candidate.fired).toBe(4);
    expect(body.signals.bad_ip!.inForce.fired).toBe(0);
    for (const s of body.sample) {
      expect(s.clientIp).toBe(ABROAD);
      expect(s.candidate.signals).toContainEqual({
        name: 'bad_ip',
        weight: badIp,
        detail: 'client IP 8.8.8.8 is in bad-IP range 8.8.8.0/24',
      });
    }
  });

  it('stops reading when its caller goes away, and frees the instance for the next run', async () => {
    const source = app.get<DataSource>(getDataSourceToken(RISK_DB));
    const pages = recordedDecisions(source.manager, { signal: AbortSignal.abort(new Error('gone')) }, 1);
    await expect(pages.next()).rejects.toThrow('gone');
    const { status } = await simulate({ candidate: {} });
    expect(status).toBe(200);
  });

  it('selects a window by recorded time', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const { body } = await simulate({ candidate: {}, from: future });
    expect(body.events.considered).toBe(0);
    expect(body.window.from).toBe(future);
  });

  it('answers 400 with every problem of a bad request or candidate', async () => {
    const bad = await simulate({ candidate: { risk: { thresholds: { medium: 'x' }, monitor: ['nope'] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual([
      expect.stringMatching(/^risk\.thresholds\.medium: /),
      expect.stringMatching(/^risk\.monitor\.0: must be a signal/),
    ]);
    const body = await simulate({ from: 'yesterday' });
    expect(body.status).toBe(400);
    expect(body.body.problems).toEqual([
      expect.stringMatching(/^candidate: /),
      expect.stringMatching(/^from: must be an ISO 8601/),
    ]);
  });
});
