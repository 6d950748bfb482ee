import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from '@stepgate/config';
import { describe, expect, it } from 'vitest';
import type { RouteView } from '@stepgate/policy';
import { riskConfigSchema, type RiskConfig } from '../config';
import { weigh, type ObservedSignal } from '@stepgate/risk-scoring';
import { backtest, type RecordedDecision } from './backtest.engine';
import { resolveCandidate, backtestSidePolicyOf } from './candidate';

const shipped = parseConfig(
  riskConfigSchema,
  readFileSync(resolve(__dirname, '../../../../config/stepgate.yaml'), 'utf8'),
  {
    source: 'stepgate.yaml',
    env: {},
  },
).risk;

const ROUTES: RouteView[] = [
  {
    id: 'payments',
    decisions: { low: 'allow', medium: 'step_up', high: 'step_up', critical: 'deny' },
    onRiskUnavailable: 'deny',
    mode: 'enforce',
  },
  {
    id: 'reports',
    decisions: { low: 'allow', medium: 'allow', high: 'allow', critical: 'deny' },
    onRiskUnavailable: 'allow',
    mode: 'enforce',
  },
];

const T0 = Date.parse('2026-11-01T00:00:00Z');
const rule = (name: string, knob: ObservedSignal['knob'], units = 1): ObservedSignal => ({
  name,
  knob,
  units,
  detail: `${name} seen`,
});
const history: ObservedSignal = {
  name: 'history',
  knob: 'none',
  units: 0,
  detail: '10 allowed accesses learned',
};

/** A recorded access, scored as risk would have scored it under `config`. */
function recorded(
  i: number,
  subject: string,
  route: string,
  observed: ObservedSignal[],
  config: RiskConfig = shipped,
  clientIp = '81.2.69.142',
): RecordedDecision {
  const side = backtestSidePolicyOf(config, ROUTES, 'lr-1/cfg-test');
  const w = weigh(observed, side.scoring);
  return {
    time: T0 + i * 1000,
    subject,
    deviceId: 'd-1',
    clientIp,
    route,
    decision: 'allow',
    score: w.score,
    level: w.level,
    modelVersion: 'lr-1/cfg-test',
    signals: w.signals,
  };
}

function candidate(input: unknown) {
  const result = resolveCandidate(input, shipped, ROUTES);
  if (!result.ok) throw new Error(result.problems.join('; '));
  return { side: backtestSidePolicyOf(result.config, result.routes, 'candidate'), warnings: result.warnings };
}

const inForce = backtestSidePolicyOf(shipped, ROUTES, 'lr-1/cfg-test');

// unconfirmed device: 30 points (medium at 30); model_country 2 bits x 2 = 4.
const stream = (): RecordedDecision[] => [
  recorded(0, 'alice', 'payments', [history]),
  recorded(1, 'alice', 'payments', [rule('unconfirmed_device', 'unconfirmedDevice'), history]),
  recorded(2, 'bob', 'payments', [
    history,
    { name: 'model_country', knob: 'model.country', units: 2, detail: 'DE new' },
  ]),
  recorded(3, 'bob', 'reports', [rule('unconfirmed_device', 'unconfirmedDevice'), history]),
  recorded(4, 'carol', 'payments', [rule('new_device', 'newDevice'), history], shipped, '8.8.8.8'),
];

describe(backtest.name, () => {
  it('changes nothing when the candidate is the policy in force', async () => {
    const report = await backtest(stream(), inForce, inForce);
    expect(report.events).toEqual({
      considered: 5,
      notReweighable: 0,
      unknownRoute: 0,
      inForceDiffersFromRecorded: 0,
    });
    expect(report.inForce).toEqual(report.candidate);
    expect(report.inForce).toMatchObject({ events: 5, allow: 3, step_up: 2, deny: 0 });
    expect(report.changed).toEqual({ decisions: 0, stricter: 0, laxer: 0, levels: 0, scores: 0 });
    expect(report.sample).toEqual([]);
  });

  it('counts what a lower medium threshold steps up, per route, level and subject', async () => {
    const { side } = candidate({ risk: { thresholds: { medium: 4 } } });
    const report = await backtest(stream(), inForce, side);
    // bob's payments access (4 points) is now medium: stepped up. Reports never steps up.
    expect(report.inForce).toMatchObject({ allow: 3, step_up: 2 });
    expect(report.candidate).toMatchObject({ allow: 2, step_up: 3, rates: { step_up: 0.6 } });
    expect(report.routes.payments!.candidate).toMatchObject({ events: 4, allow: 1, step_up: 3 });
    expect(report.routes.reports!.candidate).toMatchObject({ events: 1, allow: 1 });
    expect(report.levels.inForce).toEqual({ low: 2, medium: 3, high: 0, critical: 0 });
    expect(report.levels.candidate).toEqual({ low: 1, medium: 4, high: 0, critical: 0 });
    expect(report.changed).toMatchObject({ decisions: 1, stricter: 1, laxer: 0, levels: 1, scores: 0 });
    expect(report.subjects.newlyChallenged).toEqual({ count: 1, sample: ['bob'] });
    expect(report.subjects.released).toEqual({ count: 0, sample: [] });
    expect(report.sample).toHaveLength(1);
    expect(report.sample[0]).toMatchObject({
      subject: 'bob',
      route: 'payments',
      inForce: { score: 4, level: 'low', decision: 'allow' },
      candidate: { score: 4, level: 'medium', decision: 'step_up' },
    });
    expect(report.sample[0]!.candidate.signals.map((s) => s.name)).toEqual(['history', 'model_country']);
    expect(report.signals.unconfirmed_device).toEqual({
      inForce: { fired: 2, decisive: 1, monitored: 0 },
      candidate: { fired: 2, decisive: 1, monitored: 0 },
    });
  });

  it('re-evaluates the lists from the client IP: a bad IP denies', async () => {
    const { side } = candidate({ risk: { lists: { badIps: ['8.8.8.0/24'] } } });
    const report = await backtest(stream(), inForce, side);
    // carol: new device 50 + bad IP 60 = 100, critical: denied.
    expect(report.candidate).toMatchObject({ step_up: 1, deny: 1 });
    expect(report.sample[0]).toMatchObject({
      subject: 'carol',
      inForce: { score: 50, decision: 'step_up' },
      candidate: { score: 100, level: 'critical', decision: 'deny' },
    });
    expect(report.sample[0]!.candidate.signals).toContainEqual({
      name: 'bad_ip',
      weight: 60,
      detail: 'client IP 8.8.8.8 is in bad-IP range 8.8.8.0/24',
    });
    expect(report.signals.bad_ip!.candidate).toEqual({ fired: 1, decisive: 1, monitored: 0 });
    expect(report.signals.bad_ip!.inForce).toEqual({ fired: 0, decisive: 0, monitored: 0 });
  });

  it('counts a monitored signal only where it would have added points, as live scoring does', async () => {
    const { side } = candidate({
      risk: { monitor: ['unconfirmed_device'], weights: { unconfirmedDevice: 0 } },
    });
    const report = await backtest(stream(), inForce, side);
    expect(report.signals.unconfirmed_device?.candidate ?? { monitored: 0 }).toMatchObject({ monitored: 0 });
  });

  it('replays monitor mode as a knob: a monitored signal releases what it decided', async () => {
    const { side } = candidate({ risk: { monitor: ['unconfirmed_device'] } });
    const report = await backtest(stream(), inForce, side);
    expect(report.candidate).toMatchObject({ allow: 4, step_up: 1 });
    expect(report.subjects.released).toEqual({ count: 1, sample: ['alice'] });
    expect(report.signals.unconfirmed_device!.candidate).toEqual({ fired: 0, decisive: 0, monitored: 2 });
    expect(report.sample[0]!.candidate.signals).toContainEqual({
      name: 'unconfirmed_device',
      weight: 0,
      detail: 'monitor: would add 30 points: unconfirmed_device seen',
    });
  });

  it('counts monitor-mode routes as would-have, and route decisions changed by the candidate', async () => {
    const { side } = candidate({
      policy: { routes: [{ id: 'reports', mode: 'monitor', decisions: { medium: 'deny' } }] },
    });
    const report = await backtest(stream(), inForce, side);
    expect(report.routes.reports).toMatchObject({
      mode: { inForce: 'enforce', candidate: 'monitor' },
      candidate: { deny: 1, monitor: { step_up: 0, deny: 1 } },
    });
    expect(report.candidate.monitor).toEqual({ step_up: 0, deny: 1 });
  });

  it('keeps the recorded score of accesses recorded without units, and says so', async () => {
    const legacy: RecordedDecision = {
      ...recorded(9, 'dave', 'payments', [history]),
      score: 35,
      level: 'medium',
      signals: [{ name: 'new_device', weight: 35, detail: 'old' }],
    };
    const { side } = candidate({ risk: { thresholds: { medium: 40 } } });
    const report = await backtest([legacy], inForce, side);
    expect(report.events.notReweighable).toBe(1);
    expect(report.inForce).toMatchObject({ step_up: 1 });
    expect(report.candidate).toMatchObject({ allow: 1 });
    expect(report.warnings.join('\n')).toMatch(/1 accesses were recorded without re-weighable signals/);
  });

  it('leaves accesses on unknown routes out of the decision counts', async () => {
    const report = await backtest([recorded(0, 'erin', 'gone', [history])], inForce, inForce);
    expect(report.events.unknownRoute).toBe(1);
    expect(report.inForce.events).toBe(0);
    expect(report.warnings.join('\n')).toMatch(/routes not in the policy/);
  });

  it('bounds the sample and the subject lists, whatever the number of changes', async () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      recorded(i, `s-${i}`, 'payments', [
        history,
        { name: 'model_city', knob: 'model.city', units: 4, detail: 'x' },
      ]),
    );
    const { side } = candidate({ risk: { thresholds: { medium: 4 } } });
    const report = await backtest(many, inForce, side, { sample: 7, subjectSample: 3 });
    expect(report.changed.decisions).toBe(500);
    expect(report.sample).toHaveLength(7);
    expect(report.subjects.newlyChallenged.count).toBe(500);
    expect(report.subjects.newlyChallenged.sample).toHaveLength(3);
  });
});

describe(resolveCandidate.name, () => {
  it('validates the merged candidate with the service schema and reports every problem with its path', () => {
    const result = resolveCandidate(
      {
        risk: {
          thresholds: { medium: 70 },
          weights: { badIp: 'lots' },
          monitor: ['shoe_size'],
          tresholds: {},
        },
        policy: { routes: [{ id: 'payments', decisions: { medium: 'maybe' } }] },
      },
      shipped,
      ROUTES,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^risk\.thresholds: must increase/),
        expect.stringMatching(/^risk\.weights\.badIp: /),
        expect.stringMatching(/^risk\.monitor\.0: must be a signal/),
        expect.stringMatching(/^risk: .*tresholds/),
        expect.stringMatching(/^policy\.routes\.0\.decisions\.medium: /),
      ]),
    );
  });

  it('rejects route problems and unknown top-level keys', () => {
    const bad = resolveCandidate(
      { policy: { routes: [{ id: 'payments', decisions: { medium: 'maybe' } }] } },
      shipped,
      ROUTES,
    );
    expect(bad).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^policy\.routes\.0\.decisions\.medium: /)],
    });
    expect(resolveCandidate({ gateway: {} }, shipped, ROUTES)).toMatchObject({ ok: false });
  });

  it('refuses reserved keys instead of silently dropping them', () => {
    const input = JSON.parse('{"risk":{"__proto__":{"thresholds":{"medium":1}}}}') as unknown;
    expect(resolveCandidate(input, shipped, ROUTES)).toEqual({
      ok: false,
      problems: ['risk.__proto__: reserved key, not a policy setting'],
    });
  });

  it('warns about what recorded signals cannot replay, never silently', () => {
    const result = resolveCandidate(
      {
        risk: {
          velocity: { ips: { windowSeconds: 600, max: 2 } },
          model: { smoothing: 3, coldStart: { history: 10 } },
          http: { host: 'x', port: 1 },
          lists: { trustedNetworks: [] },
        },
        policy: {
          routes: [
            { id: 'payments', onRiskUnavailable: 'allow' },
            { id: 'new-route', decisions: ROUTES[0]!.decisions },
          ],
        },
      },
      { ...shipped, lists: { badIps: [], trustedNetworks: ['10.0.0.0/8'] } },
      ROUTES,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const text = result.warnings.join('\n');
    expect(text).toMatch(/risk\.velocity: changed but not replayed/);
    expect(text).toMatch(/risk\.model\.smoothing: changed but not replayed/);
    expect(text).toMatch(/risk\.model\.coldStart\.history: changed but not replayed/);
    expect(text).toMatch(/risk\.http is not policy and is ignored/);
    expect(text).toMatch(/onRiskUnavailable: not replayed/);
    expect(text).toMatch(/route new-route is not in force/);
    expect(text).toMatch(/trustedNetworks: 10\.0\.0\.0\/8 removed/);
    // The velocity merge is deep: requests and devices stay as they were.
    expect(result.config.velocity.requests).toEqual(shipped.velocity.requests);
  });
});
