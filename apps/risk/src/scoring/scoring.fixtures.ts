// Builders for scoring specs: the default policy of config/stepgate.yaml, terse profiles and populations.
import { CidrList } from './ip-network';
import { observe } from './observation';
import {
  FEATURES,
  type Feature,
  type GeoInfo,
  type KnownDevice,
  type Observation,
  type Population,
  type ScoringContext,
  type ScoringPolicy,
  type SubjectProfile,
} from './scoring.types';

export const DEFAULT_POLICY: ScoringPolicy = {
  weights: {
    newDevice: 50,
    unconfirmedDevice: 30,
    deviceContextChanged: 30,
    failedChallenge: 10,
    failedChallengeMax: 40,
    lockout: 40,
    badIp: 60,
    trustedNetwork: -10,
    impossibleTravel: 40,
    velocityRequests: 20,
    velocityIps: 20,
    velocityDevices: 20,
  },
  thresholds: { medium: 30, high: 60, critical: 85 },
  model: {
    pointsPerBit: 2,
    smoothing: 1,
    maxBits: 8,
    minBits: -4,
    features: {
      network: 1,
      block: 0.5,
      country: 1,
      region: 0.5,
      city: 0.5,
      browser: 1,
      os: 1,
      device_type: 0.5,
    },
    coldStart: {
      history: 5,
      rareShare: 0.01,
      points: 10,
      minPopulation: 100,
      features: ['country', 'browser', 'os'],
    },
  },
  failureWindowSeconds: 900,
  travel: { maxSpeedKmh: 1000, minDistanceKm: 300 },
  velocity: {
    requests: { windowSeconds: 60, max: 60 },
    ips: { windowSeconds: 3600, max: 6 },
    devices: { windowSeconds: 3600, max: 4 },
  },
  lists: { badIps: new CidrList([]), trustedNetworks: new CidrList([]) },
};

export const NOW = Date.parse('2025-06-01T12:00:00Z');

export const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
export const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';

/** A geo table for specs: London, Manchester, New York, Sydney. */
export const PLACES: Record<string, GeoInfo> = {
  '81.2.69.142': { country: 'GB', region: 'ENG', city: 'London', lat: 51.5, lon: -0.12, accuracyKm: 20 },
  '81.2.70.9': { country: 'GB', region: 'ENG', city: 'London', lat: 51.5, lon: -0.12, accuracyKm: 20 },
  '90.200.1.1': { country: 'GB', region: 'ENG', city: 'Manchester', lat: 53.48, lon: -2.24, accuracyKm: 20 },
  '8.8.8.8': { country: 'US', region: 'NY', city: 'New York', lat: 40.71, lon: -74.0, accuracyKm: 50 },
  '1.1.1.1': { country: 'AU', region: 'NSW', city: 'Sydney', lat: -33.87, lon: 151.2, accuracyKm: 50 },
};
export const tableGeo = (ip: string): GeoInfo | null => PLACES[ip] ?? null;

export function anObservation(
  ip: string | null = '81.2.69.142',
  ua: string | null = CHROME_WINDOWS,
): Observation {
  return observe(ip, ua, tableGeo);
}

export function aContext(overrides: Partial<ScoringContext> = {}): ScoringContext {
  return {
    subject: 'alice',
    deviceId: 'd-1',
    clientIp: '81.2.69.142',
    userAgent: CHROME_WINDOWS,
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
    browser: 'Chrome',
    os: 'Windows',
    ...overrides,
  };
}

export function noFeatures(): Record<Feature, Map<string, number>> {
  return Object.fromEntries(FEATURES.map((f) => [f, new Map<string, number>()])) as Record<
    Feature,
    Map<string, number>
  >;
}

/** A profile whose history is `times` accesses, each with the observation's values. */
export function historyOf(observation: Observation, times: number): Record<Feature, Map<string, number>> {
  const features = noFeatures();
  for (const f of FEATURES) {
    const v = observation.values[f];
    if (v !== null) features[f].set(v, times);
  }
  return features;
}

export function aProfile(overrides: Partial<SubjectProfile> = {}): SubjectProfile {
  return {
    historySize: 0,
    device: null,
    features: noFeatures(),
    lastTrusted: null,
    recent: [],
    challenges: [],
    ...overrides,
  };
}

/** A population where each observed value is used by `count` of `total` subject-values, `distinct` values. */
export function aPopulation(count = 0, total = 0, distinct = 0): Population {
  return Object.fromEntries(FEATURES.map((f) => [f, { count, total, distinct }])) as Population;
}
