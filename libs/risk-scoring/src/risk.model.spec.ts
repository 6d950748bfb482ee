import { describe, expect, it } from 'vitest';
import { CidrList } from '@stepgate/net';
import { levelFor, RiskModel } from './risk.model';
import {
  aContext,
  aDevice,
  anObservation,
  aPopulation,
  aProfile,
  DEFAULT_POLICY,
  FIREFOX_LINUX,
  historyOf,
  NOW,
} from './scoring.fixtures';
import type { SubjectProfile } from './scoring.types';

const HOME = anObservation('81.2.69.142');
const POPULATION = aPopulation(20, 1000, 50);

function atHome(device: SubjectProfile['device'], history = 20): SubjectProfile {
  return aProfile({ device, historySize: history, features: historyOf(HOME, history) });
}

describe(RiskModel.name, () => {
  const sut = new RiskModel(DEFAULT_POLICY, 'lr-1/test');
  const names = (profile: SubjectProfile, observation = HOME, context = aContext()) =>
    sut.score(context, profile, observation, POPULATION).signals.map((s) => s.name);

  it('scores a never-seen device medium, even for a new subject with nothing to compare', () => {
    expect(sut.score(aContext(), aProfile(), HOME, aPopulation())).toMatchObject({
      score: 50,
      level: 'medium',
      deviceStatus: 'unknown',
      modelVersion: 'lr-1/test',
    });
  });

  it('keeps a seen but unconfirmed device medium however familiar the context', () => {
    const result = sut.score(aContext(), atHome(aDevice()), HOME, POPULATION);
    expect(result).toMatchObject({ score: 30, level: 'medium', deviceStatus: 'seen' });
    expect(result.signals.filter((s) => s.weight !== 0).map((s) => s.name)).toEqual(['unconfirmed_device']);
    expect(names(atHome(aDevice()))).toContain('history');
  });

  it('scores a confirmed device on a known network and user agent low', () => {
    const result = sut.score(aContext(), atHome(aDevice({ confirmedAt: NOW - 1000 })), HOME, POPULATION);
    expect(result).toMatchObject({ score: 0, level: 'low', deviceStatus: 'confirmed' });
    expect(result.signals.filter((s) => s.weight > 0)).toEqual([]);
  });

  it('does not let a replayed confirmed device id suppress step-up from elsewhere', () => {
    const replayed = sut.score(
      aContext({ clientIp: '8.8.8.8', userAgent: FIREFOX_LINUX }),
      atHome(aDevice({ confirmedAt: NOW - 1000 })),
      anObservation('8.8.8.8', FIREFOX_LINUX),
      POPULATION,
    );
    expect(replayed.level).not.toBe('low');
    expect(replayed.signals.map((s) => s.name)).toContain('device_context_changed');
  });

  it('adds rule signals on top of the model: a bad IP alone makes a familiar context high', () => {
    const model = new RiskModel({
      ...DEFAULT_POLICY,
      lists: { badIps: new CidrList(['81.2.69.0/24']), trustedNetworks: new CidrList([]) },
    });
    const result = model.score(aContext(), atHome(aDevice({ confirmedAt: NOW })), HOME, POPULATION);
    expect(result).toMatchObject({ score: 60, level: 'high' });
  });

  it('makes the score the clamped sum of the signal weights', () => {
    const profile = atHome(aDevice({ confirmedAt: NOW - 1000 }));
    profile.challenges = [1, 2, 3, 4, 5].map((i) => ({ time: NOW - i * 1000, result: 'failed' as const }));
    for (const observation of [HOME, anObservation('1.1.1.1', FIREFOX_LINUX)]) {
      const result = sut.score(aContext(), profile, observation, POPULATION);
      const total = result.signals.reduce((s, x) => s + x.weight, 0);
      expect(result.score).toBe(Math.min(100, Math.max(0, total)));
    }
  });

  it('maps scores to levels by the thresholds', () => {
    const t = DEFAULT_POLICY.thresholds;
    expect([0, 29, 30, 59, 60, 84, 85, 100].map((s) => levelFor(s, t))).toEqual([
      'low',
      'low',
      'medium',
      'medium',
      'high',
      'high',
      'critical',
      'critical',
    ]);
  });
});
