// Builders for scoring specs: the default policy of config/stepgate.yaml, terse profiles and populations.
import { CidrList } from '@stepgate/net';
import { observe } from './observation';
import {
  FEATURES,
  type Feature,
  type GeoInfo,
  type KnownDevice,
  type Observation,
  type Population,
  type ScoringContext,
  type ScoringSettings,
  type SubjectProfile,
} from './scoring.types';

export const DEFAULT_POLICY: ScoringSettings = {
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
    deviceSource: 'header',
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
    deviceCount: 0,
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

export interface GeneratedCase {
  context: ScoringContext;
  profile: SubjectProfile;
  observation: Observation;
  population: Population;
  policy: ScoringSettings;
}

/**
 * A random but plausible scoring case: any device state, history over the fixture places and browsers,
 * failures, velocity, a last trusted place, a population, and a policy with random weights (0 included),
 * feature weights, lists and monitored signals.
 */
export function aGeneratedCase(random: () => number, monitorable: readonly string[] = []): GeneratedCase {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const ips = [...Object.keys(PLACES), '10.0.0.1', null];
  const uas = [CHROME_WINDOWS, FIREFOX_LINUX, SAFARI_IPHONE, null];
  const ip = pick(ips);
  const observation = observe(ip, pick(uas), tableGeo);
  const features = noFeatures();
  let historySize = 0;
  for (let n = int(0, 4); n > 0; n--) {
    const past = observe(pick(ips), pick(uas), tableGeo);
    const times = int(1, 30);
    historySize += times;
    for (const f of FEATURES) {
      const v = past.values[f];
      if (v !== null) features[f].set(v, (features[f].get(v) ?? 0) + times);
    }
  }
  const deviceState = pick(['none', 'seen', 'confirmed', 'absent-id'] as const);
  const context = aContext({
    clientIp: ip,
    deviceId: deviceState === 'absent-id' ? null : 'd-1',
    deviceSource: deviceState === 'absent-id' ? null : 'header',
    time: NOW,
  });
  const device =
    deviceState === 'seen' || deviceState === 'confirmed'
      ? aDevice({
          confirmedAt: deviceState === 'confirmed' ? NOW - 3_600_000 : null,
          browser: pick(['Chrome', 'Firefox', null]),
          os: pick(['Windows', 'Linux', null]),
        })
      : null;
  const challenges = Array.from({ length: int(0, 4) }, () => ({
    time: NOW - int(1, 1800) * 1000,
    result: pick(['passed', 'failed', 'failed', 'locked'] as const),
  }));
  const recent = Array.from({ length: int(0, 12) }, (_, i) => ({
    time: NOW - int(1, 3000) * 1000,
    ip: pick(ips),
    deviceId: `d-${i % int(1, 6)}`,
  }));
  const fromIp = pick(Object.keys(PLACES));
  const from = PLACES[fromIp]!;
  const lastTrusted =
    random() < 0.5
      ? {
          lat: from.lat,
          lon: from.lon,
          accuracyKm: from.accuracyKm,
          label: from.city ?? from.country,
          time: NOW - int(1, 48) * 3_600_000,
        }
      : null;
  const deviceCount = device !== null ? int(1, 3) : int(0, 2);
  const profile = aProfile({ historySize, device, deviceCount, features, lastTrusted, recent, challenges });
  const total = int(0, 2000);
  const population = Object.fromEntries(
    FEATURES.map((f) => [f, { total, distinct: int(1, 200), count: int(0, Math.max(0, total / 10)) }]),
  ) as Population;
  const w = () => pick([0, int(1, 60)]);
  const policy: ScoringSettings = {
    ...DEFAULT_POLICY,
    weights: {
      newDevice: w(),
      unconfirmedDevice: w(),
      deviceContextChanged: w(),
      failedChallenge: w(),
      failedChallengeMax: int(0, 60),
      lockout: w(),
      badIp: w(),
      trustedNetwork: -int(0, 30),
      impossibleTravel: w(),
      velocityRequests: w(),
      velocityIps: w(),
      velocityDevices: w(),
    },
    thresholds: { medium: int(10, 40), high: int(41, 70), critical: int(71, 95) },
    model: {
      ...DEFAULT_POLICY.model,
      pointsPerBit: pick([0, 0.5, 1, 2, 3.7]),
      features: Object.fromEntries(FEATURES.map((f) => [f, pick([0, 0.25, 0.5, 1, 1.5])])) as Record<
        Feature,
        number
      >,
      coldStart: {
        ...DEFAULT_POLICY.model.coldStart,
        history: int(0, 40),
        points: pick([0, 5, 10, 15]),
        minPopulation: int(0, 500),
        rareShare: pick([0.01, 0.1, 0.5]),
      },
    },
    velocity: {
      requests: { windowSeconds: 600, max: int(1, 10) },
      ips: { windowSeconds: 3600, max: int(1, 6) },
      devices: { windowSeconds: 3600, max: int(1, 4) },
    },
    lists: {
      badIps: new CidrList(random() < 0.3 ? ['8.8.8.0/24', '1.1.1.1'] : []),
      trustedNetworks: new CidrList(random() < 0.3 ? ['81.2.69.0/24'] : []),
    },
    monitor: new Set(monitorable.filter(() => random() < 0.15)),
  };
  return { context, profile, observation, population, policy };
}
