import type { RiskLevel } from '@stepgate/contracts';
import { describe, expect, it } from 'vitest';
import type { LabelledAccess } from './access-stream';
import {
  caughtByDevice,
  historyBucket,
  legitByCohort,
  pointAt,
  replay,
  thresholdFor,
  type EvaluatedRoute,
  type ScoredAccess,
} from './evaluation';

const MFA = 'urn:stepgate:acr:mfa';
const PHR = 'urn:stepgate:acr:phr';
const PAYMENTS: EvaluatedRoute = {
  id: 'payments',
  decisions: { low: 'allow', medium: 'step_up', high: 'step_up', critical: 'deny' },
  stepUp: { acr: MFA, maxAgeSeconds: 300, acrByLevel: { high: PHR } },
};
const at = (minute: number) => new Date(Date.parse('2025-06-01T00:00:00Z') + minute * 60_000).toISOString();
const access = (over: Partial<LabelledAccess>): LabelledAccess => ({
  time: at(0),
  subject: 'alice',
  ip: '81.2.69.142',
  userAgent: 'ua',
  deviceId: 'd-1',
  label: 'legit',
  ...over,
});

/** A stand-in for AssessmentService: scores by a table, records what the harness fed back. */
function fakeService(scores: Record<string, number>) {
  const calls: string[] = [];
  const level = (score: number): RiskLevel =>
    score >= 85 ? 'critical' : score >= 60 ? 'high' : score >= 30 ? 'medium' : 'low';
  return {
    calls,
    sut: {
      scoreAt: async (c: { deviceId: string | null; time: number }) => {
        const score = scores[`${c.deviceId}@${new Date(c.time).toISOString()}`] ?? 0;
        return {
          score,
          level: level(score),
          signals: [],
          deviceStatus: 'unknown' as const,
          modelVersion: 't',
        };
      },
      onAccess: async (e: {
        decision: string;
        deviceId: string | null;
        deviceSource: string | null;
        steppedUp: boolean;
        acr: string | null;
      }) => {
        const stepped = e.steppedUp ? ` stepped up ${e.acr}` : '';
        calls.push(`access ${e.deviceId} (${e.deviceSource}) ${e.decision}${stepped}`);
      },
      onChallengeOutcome: async (o: { result: string; deviceId: string | null; method: string }) => {
        calls.push(`challenge ${o.deviceId} ${o.method} ${o.result}`);
      },
    },
  };
}

describe(replay.name, () => {
  it('feeds back what the gateway and challenge would: allow, step-up and pass or fail, deny', async () => {
    const stream = [
      access({ time: at(3), deviceId: 'attacker', label: 'attack', attacker: 'naive' }),
      access({ time: at(0), deviceId: 'd-1' }),
      access({ time: at(1), deviceId: 'd-2' }),
      access({ time: at(2), deviceId: 'd-3' }),
      access({ time: at(4), deviceId: null, cohort: 'api' }),
    ];
    const { sut, calls } = fakeService({
      [`d-2@${at(1)}`]: 50,
      [`d-3@${at(2)}`]: 90,
      [`attacker@${at(3)}`]: 40,
      [`null@${at(4)}`]: 65,
    });
    const scored = await replay(stream, sut, PAYMENTS);
    expect(calls).toEqual([
      'access d-1 (cookie) allow',
      'access d-2 (cookie) step_up',
      'challenge d-2 totp passed',
      `access d-2 (cookie) allow stepped up ${MFA}`,
      'access d-3 (cookie) deny',
      'access attacker (cookie) step_up',
      'challenge attacker totp failed',
      // At high the route asks for a phishing-resistant step-up: a passkey.
      'access null (null) step_up',
      'challenge null webauthn passed',
      `access null (null) allow stepped up ${PHR}`,
    ]);
    // Results in input order, with the history the service had learned before each access.
    expect(scored.map((s) => [s.score, s.history, s.cohort])).toEqual([
      [40, 2, null],
      [0, 0, 'browser'],
      [50, 1, 'browser'],
      [90, 2, 'browser'],
      [65, 2, 'api'],
    ]);
  });

  it('tells whether an attack came with a device id the service knew', async () => {
    const stream = [
      access({ time: at(0), deviceId: 'd-1' }),
      access({ time: at(1), deviceId: 'd-1', label: 'attack', attacker: 'targeted' }),
      access({ time: at(2), deviceId: 'x', label: 'attack', attacker: 'targeted' }),
    ];
    const scored = await replay(stream, fakeService({}).sut, PAYMENTS);
    expect(scored.map((s) => s.deviceKnown)).toEqual([false, true, false]);
  });
});

describe('the report', () => {
  const s = (score: number, over: Partial<ScoredAccess> = {}): ScoredAccess => ({
    score,
    level: 'low',
    label: 'legit',
    attacker: null,
    cohort: over.label === 'attack' ? null : 'browser',
    history: 20,
    deviceKnown: false,
    ...over,
  });
  const scored = [
    s(50, { label: 'attack', attacker: 'naive' }),
    s(20, { label: 'attack', attacker: 'naive', deviceKnown: true }),
    s(35, { label: 'attack', attacker: 'vpn' }),
    s(0),
    s(40),
    s(50, { history: 0 }),
    s(10, { history: 3 }),
    s(45, { cohort: 'api' }),
    s(60, { label: 'attack', attacker: 'replay-foreign', deviceKnown: true }),
  ];

  it('gives the shares stepped up at a threshold, null where there is nothing to count', () => {
    expect(pointAt(scored, 30)).toEqual({
      threshold: 30,
      caught: { naive: 0.5, vpn: 1, targeted: null, very_targeted: null, replay_foreign: 1 },
      legit_stepped_up: { history_0: 1, history_1_9: 0, history_10_plus: 0.6667 },
      legit_stepped_up_by_cohort: { browser: 0.5, api: 1, cookie_clear: null },
    });
    expect(legitByCohort(scored, 30).api).toEqual({ history_0: null, history_1_9: null, history_10_plus: 1 });
    expect(caughtByDevice(scored, 30)).toMatchObject({
      device_id_known: { naive: 0 },
      device_id_new: { naive: 1, vpn: 1 },
    });
  });

  it('buckets history as 0, 1-9 and 10+', () => {
    expect([0, 1, 9, 10, 500].map(historyBucket)).toEqual([
      'history_0',
      'history_1_9',
      'history_1_9',
      'history_10_plus',
      'history_10_plus',
    ]);
  });

  it('finds the highest threshold that catches the share asked of naive, vpn and targeted', () => {
    const curve = Array.from({ length: 101 }, (_, t) => pointAt(scored, t));
    expect(thresholdFor(curve, 0.5)?.threshold).toBe(35);
    expect(thresholdFor(curve, 1)?.threshold).toBe(20);
    // Without attacks of those models there is no such threshold.
    const legitOnly = scored.filter((x) => x.label === 'legit');
    expect(
      thresholdFor(
        Array.from({ length: 101 }, (_, t) => pointAt(legitOnly, t)),
        0.995,
      ),
    ).toBeNull();
  });
});
