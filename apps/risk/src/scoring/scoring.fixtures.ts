// Builders for scoring specs: the default policy of config/stepgate.yaml and terse profiles.
import type { KnownDevice, ScoringContext, ScoringPolicy, SubjectProfile } from './scoring.types';

export const DEFAULT_POLICY: ScoringPolicy = {
  weights: {
    newDevice: 50,
    unconfirmedDevice: 30,
    newNetwork: 15,
    newCountry: 20,
    failedChallenge: 10,
    failedChallengeMax: 40,
  },
  thresholds: { medium: 30, high: 60, critical: 85 },
  failureWindowSeconds: 900,
};

export const NOW = Date.parse('2025-06-01T12:00:00Z');

export function aContext(overrides: Partial<ScoringContext> = {}): ScoringContext {
  return {
    subject: 'alice',
    deviceId: 'd-1',
    clientIp: '81.2.69.142',
    userAgent: 'test-agent',
    route: 'payments',
    time: NOW,
    ...overrides,
  };
}

export function aDevice(overrides: Partial<KnownDevice> = {}): KnownDevice {
  return {
    seenCount: 3,
    firstSeenAt: NOW - 86_400_000,
    lastSeenAt: NOW - 60_000,
    confirmedAt: null,
    ...overrides,
  };
}

export function aProfile(overrides: Partial<SubjectProfile> = {}): SubjectProfile {
  return { device: null, networks: new Set(), countries: new Set(), challenges: [], ...overrides };
}
