import { describe, expect, it } from 'vitest';
import { aContext, aDevice, aProfile, DEFAULT_POLICY, NOW } from './scoring.fixtures';
import { failedChallenges, newCountry, newDevice, newNetwork, unconfirmedDevice } from './signals';
import type { Observation, ScoringPolicy, SignalInput } from './scoring.types';

const GB: Observation = { network: '81.2.69.0/24', country: 'GB' };

function input(overrides: Partial<SignalInput> = {}): SignalInput {
  return { context: aContext(), profile: aProfile(), observation: GB, policy: DEFAULT_POLICY, ...overrides };
}

function withWeights(weights: Partial<ScoringPolicy['weights']>): ScoringPolicy {
  return { ...DEFAULT_POLICY, weights: { ...DEFAULT_POLICY.weights, ...weights } };
}

describe('signals', () => {
  describe('newDevice', () => {
    const sut = newDevice;

    it('fires for a device never seen for the subject', () => {
      expect(sut(input())).toEqual({
        name: 'new_device',
        weight: 50,
        detail: 'device d-1 never seen for this subject',
      });
    });

    it('fires for a request without a device id, even if the subject has devices', () => {
      const signal = sut(
        input({ context: aContext({ deviceId: null }), profile: aProfile({ device: aDevice() }) }),
      );
      expect(signal).toEqual({ name: 'new_device', weight: 50, detail: 'request carried no device id' });
    });

    it('stays silent for a known device', () => {
      expect(sut(input({ profile: aProfile({ device: aDevice() }) }))).toBeNull();
    });

    it('is disabled by a weight of 0', () => {
      expect(sut(input({ policy: withWeights({ newDevice: 0 }) }))).toBeNull();
    });
  });

  describe('unconfirmedDevice', () => {
    const sut = unconfirmedDevice;

    it('fires for a device seen but never confirmed', () => {
      expect(sut(input({ profile: aProfile({ device: aDevice({ seenCount: 1 }) }) }))).toEqual({
        name: 'unconfirmed_device',
        weight: 30,
        detail: 'device d-1 seen 1 time but never confirmed by a passed challenge',
      });
    });

    it('stays silent for a confirmed device', () => {
      expect(sut(input({ profile: aProfile({ device: aDevice({ confirmedAt: NOW - 1000 }) }) }))).toBeNull();
    });

    it('stays silent for an unknown device (new_device covers it)', () => {
      expect(sut(input())).toBeNull();
    });
  });

  describe('newNetwork', () => {
    const sut = newNetwork;

    it('fires for a network the subject never used', () => {
      const profile = aProfile({ networks: new Set(['203.0.113.0/24']) });
      expect(sut(input({ profile }))).toEqual({
        name: 'new_network',
        weight: 15,
        detail: 'network 81.2.69.0/24 never seen for this subject',
      });
    });

    it('stays silent for a known network', () => {
      expect(sut(input({ profile: aProfile({ networks: new Set(['81.2.69.0/24']) }) }))).toBeNull();
    });

    it('stays silent for a subject without history', () => {
      expect(sut(input())).toBeNull();
    });

    it('stays silent without an IP', () => {
      const profile = aProfile({ networks: new Set(['203.0.113.0/24']) });
      expect(sut(input({ profile, observation: { network: null, country: null } }))).toBeNull();
    });
  });

  describe('newCountry', () => {
    const sut = newCountry;

    it('fires for a country that differs from every known one', () => {
      const profile = aProfile({ countries: new Set(['US', 'DE']) });
      expect(sut(input({ profile }))).toEqual({
        name: 'new_country',
        weight: 20,
        detail: 'country GB differs from known DE, US',
      });
    });

    it('stays silent for a known country', () => {
      expect(sut(input({ profile: aProfile({ countries: new Set(['GB']) }) }))).toBeNull();
    });

    it('stays silent when the country of the IP is unknown (loopback, private, not in the database)', () => {
      const profile = aProfile({ countries: new Set(['US']) });
      expect(sut(input({ profile, observation: { network: '127.0.0.0/24', country: null } }))).toBeNull();
    });

    it('stays silent when no country is known for the subject', () => {
      expect(sut(input({ profile: aProfile({ networks: new Set(['10.0.0.0/24']) }) }))).toBeNull();
    });

    it('keeps its detail within the contract limit', () => {
      const countries = new Set(Array.from({ length: 300 }, (_, i) => `C${i}`));
      expect(sut(input({ profile: aProfile({ countries }) }))!.detail.length).toBeLessThanOrEqual(500);
    });
  });

  describe('failedChallenges', () => {
    const sut = failedChallenges;
    const failed = (secondsAgo: number) => ({ time: NOW - secondsAgo * 1000, result: 'failed' as const });

    it('weighs each failure in the window', () => {
      const profile = aProfile({ challenges: [failed(10), { time: NOW - 20_000, result: 'locked' }] });
      expect(sut(input({ profile }))).toEqual({
        name: 'failed_challenges',
        weight: 20,
        detail: '2 failed challenges in the last 900 s',
      });
    });

    it('caps the weight at failedChallengeMax', () => {
      const profile = aProfile({ challenges: [1, 2, 3, 4, 5, 6].map(failed) });
      expect(sut(input({ profile }))?.weight).toBe(40);
    });

    it('ignores failures outside the window and after the scored moment', () => {
      const profile = aProfile({ challenges: [failed(901), failed(-5)] });
      expect(sut(input({ profile }))).toBeNull();
    });

    it('counts only failures after the last passed challenge', () => {
      const profile = aProfile({
        challenges: [failed(300), failed(200), { time: NOW - 100_000, result: 'passed' }, failed(50)],
      });
      expect(sut(input({ profile }))?.weight).toBe(10);
    });

    it('stays silent without failures', () => {
      expect(sut(input())).toBeNull();
    });
  });
});
