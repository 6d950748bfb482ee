import { describe, expect, it } from 'vitest';
import { CidrList } from '@stepgate/net';
import {
  aContext,
  aDevice,
  anObservation,
  aProfile,
  CHROME_WINDOWS,
  DEFAULT_POLICY,
  FIREFOX_LINUX,
  historyOf,
  NOW,
} from './scoring.fixtures';
import {
  badIp,
  deviceContextChanged,
  failedChallenges,
  impossibleTravel,
  lockout,
  newDevice,
  trustedNetwork,
  unconfirmedDevice,
  velocityDevices,
  velocityIps,
  velocityRequests,
} from './signals';
import type { ScoringSettings, SignalInput } from './scoring.types';

const HOME = anObservation('81.2.69.142');

function input(overrides: Partial<SignalInput> = {}): SignalInput {
  return {
    context: aContext(),
    profile: aProfile(),
    observation: HOME,
    policy: DEFAULT_POLICY,
    ...overrides,
  };
}

function withPolicy(overrides: Partial<ScoringSettings>): ScoringSettings {
  return { ...DEFAULT_POLICY, ...overrides };
}
function withWeights(weights: Partial<ScoringSettings['weights']>): ScoringSettings {
  return withPolicy({ weights: { ...DEFAULT_POLICY.weights, ...weights } });
}

describe('signals', () => {
  describe('newDevice', () => {
    const sut = newDevice;

    it('fires for a device never seen for the subject', () => {
      expect(sut(input())).toEqual({
        name: 'new_device',
        weight: 50,
        detail: 'device d-1 (X-Device-Id header) never seen for this subject',
      });
      const dpop = aContext({ deviceId: 'dpop:NzbLsXh8', deviceSource: 'dpop' });
      expect(sut(input({ context: dpop }))?.detail).toBe(
        'device dpop:NzbLsXh8 (DPoP key) never seen for this subject',
      );
    });

    const noId = aContext({ deviceId: null, deviceSource: null });

    it('fires for a request without a device id from a subject whose accesses carry one', () => {
      // Stripping the device id must not earn the device-less treatment.
      const profile = aProfile({ historySize: 40, deviceCount: 2, features: historyOf(HOME, 40) });
      expect(sut(input({ context: noId, profile }))).toEqual({
        name: 'new_device',
        weight: 50,
        detail: "request carried no device id; the subject's accesses carry one (2 devices)",
      });
    });

    it("fires for a device-less subject's first call: nothing stands in for a device yet", () => {
      expect(sut(input({ context: noId }))).toEqual({
        name: 'new_device',
        weight: 50,
        detail: 'request carried no device id, and the subject has no history without one',
      });
    });

    it('stays silent for a subject that never sends a device id once it has history (it stands in)', () => {
      const profile = aProfile({ historySize: 3, deviceCount: 0, features: historyOf(HOME, 3) });
      expect(sut(input({ context: noId, profile }))).toBeNull();
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
        detail: 'device d-1 (X-Device-Id header) seen 1 time but never confirmed by a passed challenge',
      });
    });

    it('stays silent for a confirmed device', () => {
      expect(sut(input({ profile: aProfile({ device: aDevice({ confirmedAt: NOW - 1000 }) }) }))).toBeNull();
    });

    it('stays silent for an unknown device (new_device covers it)', () => {
      expect(sut(input())).toBeNull();
    });
  });

  describe('deviceContextChanged', () => {
    const sut = deviceContextChanged;
    const confirmed = aDevice({ confirmedAt: NOW - 1000 });
    const atHome = aProfile({ device: confirmed, historySize: 10, features: historyOf(HOME, 10) });

    it('stays silent for a known device in its usual context', () => {
      expect(sut(input({ profile: atHome }))).toBeNull();
    });

    it('fires for a known device id with another browser and OS family (a copied cookie)', () => {
      const observation = anObservation('81.2.69.142', FIREFOX_LINUX);
      expect(sut(input({ profile: atHome, observation }))).toEqual({
        name: 'device_context_changed',
        weight: 30,
        detail: 'known device d-1 (X-Device-Id header) was Chrome on Windows, now Firefox on Linux',
      });
    });

    it('fires for a known device seen with no user agent: a missing family is a change, not a wildcard', () => {
      expect(sut(input({ profile: atHome, observation: anObservation('81.2.69.142', '') }))?.detail).toBe(
        'known device d-1 (X-Device-Id header) was Chrome on Windows, now no browser',
      );
      const noOs = anObservation('81.2.69.142', 'python-requests/2.31.0');
      expect(sut(input({ profile: atHome, observation: noOs }))?.detail).toBe(
        'known device d-1 (X-Device-Id header) was Chrome on Windows, now python-requests',
      );
    });

    it('leaves a device never seen with a browser or OS to the model when one appears', () => {
      const bare = aProfile({ ...atHome, device: aDevice({ browser: null, os: null }) });
      expect(sut(input({ profile: bare }))).toBeNull();
    });

    it('says nothing of families without a user agent in hand (scoring after a challenge)', () => {
      expect(sut(input({ profile: atHome, observation: anObservation('81.2.69.142', null) }))).toBeNull();
    });

    it('fires for a known device id from a network and block the subject never used', () => {
      const observation = anObservation('8.8.8.8');
      expect(sut(input({ profile: atHome, observation }))?.detail).toBe(
        'known device d-1 (X-Device-Id header) from 8.8.8.0/24, outside every network the subject used (81.2.69.0/24 ×10)',
      );
    });

    it('accepts a new /24 inside a /16 the subject used (a DHCP renumbering)', () => {
      expect(sut(input({ profile: atHome, observation: anObservation('81.2.70.9') }))).toBeNull();
    });

    it('stays silent for an unknown device (new_device covers it) and without history', () => {
      expect(sut(input({ observation: anObservation('8.8.8.8', FIREFOX_LINUX) }))).toBeNull();
      const noHistory = aProfile({ device: aDevice({ browser: null, os: null }) });
      expect(sut(input({ profile: noHistory, observation: anObservation('8.8.8.8') }))).toBeNull();
    });

    describe('for a subject that never sends a device id (its history stands in for the device)', () => {
      const API = 'python-requests/2.31.0';
      const usual = anObservation('81.2.69.142', API);
      const client = aProfile({ historySize: 40, deviceCount: 0, features: historyOf(usual, 40) });
      const noId = aContext({ deviceId: null, deviceSource: null, userAgent: API });

      it('stays silent on its networks with its client', () => {
        expect(sut(input({ context: noId, profile: client, observation: usual }))).toBeNull();
        const renumbered = anObservation('81.2.70.9', API);
        expect(sut(input({ context: noId, profile: client, observation: renumbered }))).toBeNull();
      });

      it('fires for another client, or a network and place the subject never called from', () => {
        expect(
          sut(
            input({
              context: noId,
              profile: client,
              observation: anObservation('81.2.69.142', CHROME_WINDOWS),
            }),
          ),
        ).toEqual({
          name: 'device_context_changed',
          weight: 30,
          detail:
            'no device id (the subject never sends one): client Chrome on Windows, never seen for the subject ' +
            '(usual: python-requests ×40)',
        });
        expect(
          sut(input({ context: noId, profile: client, observation: anObservation('8.8.8.8', API) }))?.detail,
        ).toBe(
          'no device id (the subject never sends one): from 8.8.8.0/24 (US), outside every network the ' +
            'subject used (81.2.69.0/24 ×40)',
        );
      });

      it('is not the judge of a subject whose accesses carry a device id (new_device is)', () => {
        const withDevices = { ...client, deviceCount: 1 };
        const away = anObservation('8.8.8.8', CHROME_WINDOWS);
        expect(sut(input({ context: noId, profile: withDevices, observation: away }))).toBeNull();
      });
    });
  });

  describe('failedChallenges and lockout', () => {
    const failed = (secondsAgo: number) => ({ time: NOW - secondsAgo * 1000, result: 'failed' as const });
    const locked = (secondsAgo: number) => ({ time: NOW - secondsAgo * 1000, result: 'locked' as const });

    it('weighs each failure in the window', () => {
      const profile = aProfile({ challenges: [failed(10), failed(20)] });
      expect(failedChallenges(input({ profile }))).toEqual({
        name: 'failed_challenges',
        weight: 20,
        detail: '2 failed challenges in the last 900 s',
      });
    });

    it('caps the weight at failedChallengeMax', () => {
      const profile = aProfile({ challenges: [1, 2, 3, 4, 5, 6].map(failed) });
      expect(failedChallenges(input({ profile }))?.weight).toBe(40);
    });

    it('ignores failures outside the window and after the scored moment', () => {
      const profile = aProfile({ challenges: [failed(901), failed(-5)] });
      expect(failedChallenges(input({ profile }))).toBeNull();
    });

    it('counts only failures after the last passed challenge', () => {
      const profile = aProfile({
        challenges: [failed(300), failed(200), { time: NOW - 100_000, result: 'passed' }, failed(50)],
      });
      expect(failedChallenges(input({ profile }))?.weight).toBe(10);
    });

    it('weighs a lockout on its own', () => {
      const profile = aProfile({ challenges: [failed(30), locked(20)] });
      expect(lockout(input({ profile }))).toEqual({
        name: 'challenge_lockout',
        weight: 40,
        detail: '1 challenge locked out in the last 900 s',
      });
      expect(failedChallenges(input({ profile }))?.weight).toBe(10);
    });

    it('forgets a lockout after a pass or outside the window', () => {
      const passedSince = aProfile({ challenges: [locked(20), { time: NOW - 10_000, result: 'passed' }] });
      expect(lockout(input({ profile: passedSince }))).toBeNull();
      expect(lockout(input({ profile: aProfile({ challenges: [locked(1000)] }) }))).toBeNull();
    });
  });

  describe('lists', () => {
    const policy = withPolicy({
      lists: { badIps: new CidrList(['8.8.8.0/24']), trustedNetworks: new CidrList(['81.2.0.0/16']) },
    });

    it('fires bad_ip for an address in a bad range', () => {
      expect(badIp(input({ policy, observation: anObservation('8.8.8.8') }))).toEqual({
        name: 'bad_ip',
        weight: 60,
        detail: 'client IP 8.8.8.8 is in bad-IP range 8.8.8.0/24',
      });
      expect(badIp(input({ policy }))).toBeNull();
    });

    it('fires trusted_network (negative) for an address in a trusted range', () => {
      expect(trustedNetwork(input({ policy }))).toEqual({
        name: 'trusted_network',
        weight: -10,
        detail: 'client IP 81.2.69.142 is in trusted network 81.2.0.0/16',
      });
      expect(trustedNetwork(input({ policy, observation: anObservation('8.8.8.8') }))).toBeNull();
    });
  });

  describe('impossibleTravel', () => {
    const sut = impossibleTravel;
    const fromLondon = (hoursAgo: number) =>
      aProfile({
        lastTrusted: {
          lat: 51.5,
          lon: -0.12,
          accuracyKm: 20,
          label: 'GB/ENG/London',
          time: NOW - hoursAgo * 3_600_000,
        },
      });

    it('fires for London to New York in an hour', () => {
      const signal = sut(input({ profile: fromLondon(1), observation: anObservation('8.8.8.8') }));
      expect(signal).toMatchObject({ name: 'impossible_travel', weight: 40 });
      expect(signal!.detail).toMatch(
        /^GB\/ENG\/London → US\/NY\/New York: at least 5\d{3} km .* in 1.0 h, 5\d{3} km\/h > 1000 km\/h$/,
      );
    });

    it('stays silent for London to New York in a day (a flight)', () => {
      expect(sut(input({ profile: fromLondon(24), observation: anObservation('8.8.8.8') }))).toBeNull();
    });

    it('measures by event time in either direction (an event applied out of order)', () => {
      expect(sut(input({ profile: fromLondon(-1), observation: anObservation('8.8.8.8') }))).not.toBeNull();
    });

    it('takes the accuracy radii into account: fuzzy places close together never fire', () => {
      const fuzzy = aProfile({
        lastTrusted: { lat: 51.5, lon: -0.12, accuracyKm: 1000, label: 'GB', time: NOW - 60_000 },
      });
      // London to Manchester is ~260 km: within the radius, so not even the minimum distance.
      expect(sut(input({ profile: fuzzy, observation: anObservation('90.200.1.1') }))).toBeNull();
    });

    it('stays silent for a place the subject was allowed from before (a carrier egressing elsewhere)', () => {
      const profile = fromLondon(1);
      (profile.features.city as Map<string, number>).set('US/NY/New York', 3);
      expect(sut(input({ profile, observation: anObservation('8.8.8.8') }))).toBeNull();
    });

    it('stays silent without a place on either side, or on a trusted network', () => {
      expect(sut(input({ observation: anObservation('8.8.8.8') }))).toBeNull();
      expect(sut(input({ profile: fromLondon(1), observation: anObservation('127.0.0.1') }))).toBeNull();
      const policy = withPolicy({
        lists: { badIps: new CidrList([]), trustedNetworks: new CidrList(['8.8.8.0/24']) },
      });
      expect(
        sut(input({ policy, profile: fromLondon(1), observation: anObservation('8.8.8.8') })),
      ).toBeNull();
    });
  });

  describe('velocity', () => {
    const policy = withPolicy({
      velocity: {
        requests: { windowSeconds: 60, max: 3 },
        ips: { windowSeconds: 3600, max: 2 },
        devices: { windowSeconds: 3600, max: 2 },
      },
    });
    const access = (secondsAgo: number, ip = '81.2.69.142', deviceId = 'd-1') => ({
      time: NOW - secondsAgo * 1000,
      ip,
      deviceId,
    });

    it('counts requests in the window, this one included', () => {
      const three = aProfile({ recent: [access(10), access(20), access(30)] });
      expect(velocityRequests(input({ policy, profile: three }))).toEqual({
        name: 'velocity_requests',
        weight: 20,
        detail: '4 requests in 60 s (limit 3)',
      });
      const two = aProfile({ recent: [access(10), access(20), access(61), access(-5)] });
      expect(velocityRequests(input({ policy, profile: two }))).toBeNull();
    });

    it('counts distinct IPs and devices in their windows', () => {
      const profile = aProfile({
        recent: [
          access(100, '8.8.8.8', 'd-2'),
          access(200, '1.1.1.1', 'd-3'),
          access(4000, '9.9.9.9', 'd-4'),
        ],
      });
      expect(velocityIps(input({ policy, profile }))?.detail).toBe('3 distinct IPs in 3600 s (limit 2)');
      expect(velocityDevices(input({ policy, profile }))?.detail).toBe(
        '3 distinct devices in 3600 s (limit 2)',
      );
      const same = aProfile({ recent: [access(100), access(200)] });
      expect(velocityIps(input({ policy, profile: same }))).toBeNull();
      expect(velocityDevices(input({ policy, profile: same }))).toBeNull();
    });
  });
});
