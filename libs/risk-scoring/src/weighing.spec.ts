import { describe, expect, it } from 'vitest';
import { RiskModel } from './risk.model';
import { rng } from './rng';
import { aGeneratedCase, DEFAULT_POLICY } from './scoring.fixtures';
import {
  floorAtZero,
  observedOf,
  pointsOf,
  published,
  SIGNAL_NAMES,
  weigh,
  type ObservedSignal,
  type ScoredSignal,
  type WeighingSettings,
} from './weighing';

const rule = (name: string, knob: ObservedSignal['knob'], units = 1): ObservedSignal => ({
  name,
  knob,
  units,
  detail: `${name} observed`,
});

describe(weigh.name, () => {
  const policy: WeighingSettings = DEFAULT_POLICY;

  it('prices each knob from its units', () => {
    expect(pointsOf('newDevice', 1, policy)).toBe(50);
    expect(pointsOf('failedChallenge', 3, policy)).toBe(30);
    expect(pointsOf('failedChallenge', 7, policy)).toBe(40);
    expect(pointsOf('trustedNetwork', 1, policy)).toBe(-10);
    // round(features.country (1) × 2.6 bits × pointsPerBit (2))
    expect(pointsOf('model.country', 2.6, policy)).toBe(5);
    expect(pointsOf('model.block', 2.6, policy)).toBe(3);
    expect(pointsOf('coldStart.country', 0.4, policy)).toBe(4);
    expect(pointsOf('none', 12, policy)).toBe(0);
  });

  it('keeps a signal at weight 0 under the policy as silent, not published', () => {
    const weighed = weigh([rule('bad_ip', 'badIp'), rule('new_device', 'newDevice')], {
      ...policy,
      weights: { ...policy.weights, badIp: 0 },
    });
    expect(weighed.score).toBe(50);
    expect(weighed.signals[0]).toEqual({
      name: 'bad_ip',
      weight: 0,
      detail: 'bad_ip observed',
      units: 1,
      silent: true,
    });
    expect(published(weighed.signals).map((s) => s.name)).toEqual(['new_device']);
  });

  it('monitors a signal: weight 0, explained, not in the score, and says whether it would raise the level', () => {
    const signals = [rule('new_device', 'newDevice'), rule('bad_ip', 'badIp')];
    const weighed = weigh(signals, { ...policy, monitor: new Set(['bad_ip']) });
    expect(weighed.score).toBe(50);
    expect(weighed.level).toBe('medium');
    expect(weighed.signals[1]).toEqual({
      name: 'bad_ip',
      weight: 0,
      units: 1,
      monitored: true,
      detail: 'monitor: would add 60 points: bad_ip observed',
    });
    expect(observedOf(weighed.signals[1]!)).toEqual(signals[1]);
    expect(weighed.monitored).toEqual([{ name: 'bad_ip', points: 60, raisesLevel: true }]);
    const small = weigh([rule('new_device', 'newDevice'), rule('trusted_network', 'trustedNetwork')], {
      ...policy,
      monitor: new Set(['trusted_network']),
    });
    expect(small.monitored).toEqual([{ name: 'trusted_network', points: -10, raisesLevel: false }]);
  });

  it('lets familiar model values offset novel ones but never below 0', () => {
    const weighed = weigh(
      [
        { name: 'model_country', knob: 'model.country', units: 3, detail: 'novel' },
        { name: 'model_network', knob: 'model.network', units: -4, detail: 'familiar' },
      ],
      policy,
    );
    expect(weighed.signals.map((s) => s.weight)).toEqual([6, -6]);
    expect(weighed.signals[1]!.detail).toBe('familiar (offsets novelty only: -8 scaled to -6)');
    expect(observedOf(weighed.signals[1]!)).toMatchObject({ detail: 'familiar', knob: 'model.network' });
    expect(floorAtZero([6, -8])).toEqual([6, -6]);
  });
});

describe('re-weighing recorded signals', () => {
  const cases = 3000;

  it(`reproduces the recorded score, level and signals under the policy that made them (${cases} generated cases)`, () => {
    const random = rng(20261128);
    let fired = 0;
    let monitoredSeen = 0;
    for (let n = 0; n < cases; n++) {
      const c = aGeneratedCase(random, SIGNAL_NAMES);
      const score = new RiskModel(c.policy).score(c.context, c.profile, c.observation, c.population);
      // As stored: through JSON, as the signals column keeps them.
      const stored = JSON.parse(JSON.stringify(score.signals)) as ScoredSignal[];
      const again = weigh(stored.map(observedOf), c.policy);
      expect({ n, score: again.score, level: again.level }).toEqual({
        n,
        score: score.score,
        level: score.level,
      });
      expect(again.signals).toEqual(stored);
      fired += score.signals.filter((s) => s.weight !== 0).length;
      monitoredSeen += score.signals.filter((s) => s.monitored).length;
    }
    // The generator must exercise the interesting paths, or the property says little.
    expect(fired).toBeGreaterThan(cases);
    expect(monitoredSeen).toBeGreaterThan(cases / 20);
  });

  it('re-weighs under another policy exactly as scoring afresh under it would', () => {
    const random = rng(7);
    for (let n = 0; n < 1000; n++) {
      const c = aGeneratedCase(random, SIGNAL_NAMES);
      const other = aGeneratedCase(random, SIGNAL_NAMES).policy;
      // What re-weighing can replay: prices, thresholds and monitoring; observation windows stay the recorded ones.
      const candidate = {
        ...c.policy,
        weights: other.weights,
        thresholds: other.thresholds,
        monitor: other.monitor,
        model: {
          ...c.policy.model,
          pointsPerBit: other.model.pointsPerBit,
          features: other.model.features,
          coldStart: { ...c.policy.model.coldStart, points: other.model.coldStart.points },
        },
      };
      const recorded = new RiskModel(c.policy).score(c.context, c.profile, c.observation, c.population);
      const fresh = new RiskModel(candidate).score(c.context, c.profile, c.observation, c.population);
      const replayed = weigh(recorded.signals.map(observedOf), candidate);
      expect({ n, score: replayed.score, level: replayed.level }).toEqual({
        n,
        score: fresh.score,
        level: fresh.level,
      });
      // Details of model signals name weighted bits, which follow the recorded policy; the rest is the same.
      expect(replayed.signals.map((s) => [s.name, s.weight])).toEqual(
        fresh.signals.map((s) => [s.name, s.weight]),
      );
    }
  });
});
