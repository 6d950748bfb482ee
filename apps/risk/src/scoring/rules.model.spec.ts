import { describe, expect, it } from 'vitest';
import { levelFor, RulesModel } from './rules.model';
import { aContext, aDevice, aProfile, DEFAULT_POLICY, NOW } from './scoring.fixtures';
import type { Observation, ScoringPolicy } from './scoring.types';

const HOME: Observation = { network: '81.2.69.0/24', country: 'GB' };

describe(RulesModel.name, () => {
  const sut = new RulesModel(DEFAULT_POLICY);

  it('scores a never-seen device medium', () => {
    const result = sut.score(aContext(), aProfile(), HOME);
    expect(result).toMatchObject({
      score: 50,
      level: 'medium',
      deviceStatus: 'unknown',
      modelVersion: 'rules-1',
    });
    expect(result.signals.map((s) => s.name)).toEqual(['new_device']);
  });

  it('scores a seen but unconfirmed device on a known network medium', () => {
    const profile = aProfile({
      device: aDevice(),
      networks: new Set([HOME.network!]),
      countries: new Set(['GB']),
    });
    expect(sut.score(aContext(), profile, HOME)).toMatchObject({
      score: 30,
      level: 'medium',
      deviceStatus: 'seen',
    });
  });

  it('scores a confirmed device on a known network low, with no signals', () => {
    const profile = aProfile({
      device: aDevice({ confirmedAt: NOW - 1000 }),
      networks: new Set([HOME.network!]),
      countries: new Set(['GB']),
    });
    expect(sut.score(aContext(), profile, HOME)).toEqual({
      score: 0,
      level: 'low',
      signals: [],
      deviceStatus: 'confirmed',
      modelVersion: 'rules-1',
    });
  });

  it('adds up the weights of every signal that fired', () => {
    const profile = aProfile({ networks: new Set(['10.0.0.0/24']), countries: new Set(['US']) });
    const result = sut.score(aContext(), profile, HOME);
    expect(result.signals.map((s) => s.name)).toEqual(['new_device', 'new_network', 'new_country']);
    expect(result).toMatchObject({ score: 85, level: 'critical' });
  });

  it('clamps the score to 100', () => {
    const profile = aProfile({
      networks: new Set(['10.0.0.0/24']),
      countries: new Set(['US']),
      challenges: [1, 2, 3, 4].map((s) => ({ time: NOW - s * 1000, result: 'failed' as const })),
    });
    expect(sut.score(aContext(), profile, HOME).score).toBe(100);
  });

  it('reports a device without an id as unknown even when the subject has devices', () => {
    const result = sut.score(aContext({ deviceId: null }), aProfile({ device: aDevice() }), HOME);
    expect(result.deviceStatus).toBe('unknown');
  });

  describe(levelFor.name, () => {
    const thresholds: ScoringPolicy['thresholds'] = { medium: 30, high: 60, critical: 85 };

    it.each([
      [0, 'low'],
      [29, 'low'],
      [30, 'medium'],
      [59, 'medium'],
      [60, 'high'],
      [84, 'high'],
      [85, 'critical'],
      [100, 'critical'],
    ] as const)('maps %i to %s', (score, level) => {
      expect(levelFor(score, thresholds)).toBe(level);
    });
  });
});
