// The vocabulary of scoring: what is being scored, what risk knows about the subject and the population,
// and the tunables. Plain data only, so the model and its signals stay pure and testable without a container.
import type { DeviceSource, DeviceStatus, RiskLevel, RiskSignal } from '@stepgate/contracts';
import type { MonitoredEffect, ScoredSignal } from './weighing';

/** One access (or an access the gateway is about to allow) to score. Times are epoch milliseconds. */
export interface ScoringContext {
  subject: string;
  deviceId: string | null;
  /**
   * Where the gateway got the device id: `dpop` (a key the client proves on every request: it cannot be
   * copied), `header` or `cookie` (copied by whoever copies the request). Null without a device id, or when
   * not known (scoring after a challenge).
   */
  deviceSource: DeviceSource | null;
  /** Null when scoring without a request in hand (after a challenge, for a device never seen on an allowed access). */
  clientIp: string | null;
  userAgent: string | null;
  route: string | null;
  /** The moment the score is for (event time): windows end here, travel is measured to here. */
  time: number;
}

/** Where an IP is, as far as the geo database can tell. */
export interface GeoInfo {
  country: string;
  /** ISO subdivision code (e.g. `ENG`), when known. */
  region: string | null;
  city: string | null;
  lat: number;
  lon: number;
  /** Radius (km) the true location lies within: geoip-lite's `area`. */
  accuracyKm: number;
}

/** Geo of a public IP, or null; geoip-lite in the app, a table in tests. */
export type GeoLookup = (ip: string) => GeoInfo | null;

/** What the user agent tells us, through ua-parser-js. Null fields: the parser could not tell. */
export interface UserAgentInfo {
  browser: string | null;
  os: string | null;
  /** `desktop` when a browser or OS was recognised without a device type (the parser leaves those blank). */
  deviceType: string | null;
}

/** The features the likelihood model compares against the subject's history and the population. */
export const FEATURES = [
  'network',
  'block',
  'country',
  'region',
  'city',
  'browser',
  'os',
  'device_type',
] as const;
export type Feature = (typeof FEATURES)[number];

/** The point on the map of an access, for impossible travel. */
export interface Place {
  lat: number;
  lon: number;
  accuracyKm: number;
  /** Human name, e.g. `GB/ENG/Newmarket`. */
  label: string;
}

/** What the context's IP and user agent tell us, derived once and used both to score and to learn. */
export interface Observation {
  /** Canonical client IP, null when absent or unparseable. */
  ip: string | null;
  /** Feature values; null when unknown (a private IP has no country, an odd user agent no browser). */
  values: Record<Feature, string | null>;
  place: Place | null;
}

export interface KnownDevice {
  /** Allowed accesses seen from this device; 0 for a device only ever confirmed by a challenge. */
  seenCount: number;
  firstSeenAt: number | null;
  lastSeenAt: number | null;
  /** Last passed challenge on this device, if any. */
  confirmedAt: number | null;
  /** Browser and OS family of the device's latest learned access that told one (null: never told). */
  browser: string | null;
  os: string | null;
}

export type ChallengeResult = 'passed' | 'failed' | 'locked';

/** An access in the velocity window (allowed or not). */
export interface RecentAccess {
  time: number;
  ip: string | null;
  deviceId: string | null;
}

/** The last allowed access that had a location: where the subject was last known to be. */
export interface TrustedPlace extends Place {
  time: number;
}

/** The slice of a subject's profile that scoring needs. */
export interface SubjectProfile {
  /** Allowed accesses learned: the subject's history size. */
  historySize: number;
  /** The context's device, or null when it was never seen (or the context has no device id). */
  device: KnownDevice | null;
  /**
   * Devices of the subject (seen on a learned access or confirmed by a challenge). 0 with history: a subject
   * that never sends a device id, whose history stands in for the device.
   */
  deviceCount: number;
  /** Per feature, how many learned accesses had each value (bounded by retention). */
  features: Readonly<Record<Feature, ReadonlyMap<string, number>>>;
  lastTrusted: TrustedPlace | null;
  /** Accesses of the subject in the longest velocity window before the context's time. */
  recent: readonly RecentAccess[];
  /** Recent challenge results of the subject (at least those in the failure window). */
  challenges: readonly { time: number; result: ChallengeResult }[];
}

/** How common each observed value is across all subjects: how many subjects have used it. */
export interface FeaturePopulation {
  /** Sum over all values of the subjects that used it (the normaliser of the global distribution). */
  total: number;
  /** Distinct values seen. */
  distinct: number;
  /** Subjects that used the observed value (0 when none has). */
  count: number;
}
export type Population = Readonly<Record<Feature, FeaturePopulation>>;

/** Points each rule signal adds when it fires; 0 disables it. */
export interface RiskWeights {
  newDevice: number;
  unconfirmedDevice: number;
  deviceContextChanged: number;
  failedChallenge: number;
  failedChallengeMax: number;
  lockout: number;
  badIp: number;
  /** Negative or 0: a configured trusted network lowers the score. */
  trustedNetwork: number;
  impossibleTravel: number;
  velocityRequests: number;
  velocityIps: number;
  velocityDevices: number;
}

/** Score at or above which each level starts. */
export interface RiskThresholds {
  medium: number;
  high: number;
  critical: number;
}

export interface ModelSettings {
  /** Score points per bit of log-likelihood ratio. */
  pointsPerBit: number;
  /** Additive smoothing: pseudo-accesses drawn from the global distribution added to the subject's history. */
  smoothing: number;
  /** A feature's log-likelihood ratio is clipped to [minBits, maxBits]: no single feature dominates. */
  maxBits: number;
  minBits: number;
  /** Per feature multiplier of its bits (0 drops the feature). */
  features: Record<Feature, number>;
  coldStart: {
    /** Below this many learned accesses a subject is in cold start; its weight falls linearly to 0 here. */
    history: number;
    /** A value used by fewer than this share of subjects is rare. */
    rareShare: number;
    /** Points for each rare value at zero history. */
    points: number;
    /** The population must have at least this many subject-values in a feature before rarity means anything. */
    minPopulation: number;
    /** Features whose rarity counts in cold start (a /24 is rare for everyone: it would say nothing). */
    features: Feature[];
  };
}

export interface ScoringSettings {
  weights: RiskWeights;
  thresholds: RiskThresholds;
  model: ModelSettings;
  failureWindowSeconds: number;
  travel: { maxSpeedKmh: number; minDistanceKm: number };
  velocity: {
    requests: { windowSeconds: number; max: number };
    ips: { windowSeconds: number; max: number };
    devices: { windowSeconds: number; max: number };
  };
  /** CIDR lists, already parsed. */
  lists: { badIps: IpMatcher; trustedNetworks: IpMatcher };
  /** Signals in monitor mode: computed, explained and counted, but adding nothing to the score. */
  monitor?: ReadonlySet<string>;
}

/** A set of CIDR ranges. */
export interface IpMatcher {
  /** The configured range that contains the IP, or null. */
  match(ip: string): string | null;
}

/** Everything a signal may look at. */
export interface SignalInput {
  context: ScoringContext;
  profile: SubjectProfile;
  observation: Observation;
  policy: ScoringSettings;
}

/** A signal either fires, with its weight and a reason a human can read, or stays silent. */
export type Signal = (input: SignalInput) => RiskSignal | null;

export interface Score {
  score: number;
  level: RiskLevel;
  /** Every signal observed, silent ones included (see weighing.ts); publish them through `published`. */
  signals: ScoredSignal[];
  /** Monitored signals that would have added points, and whether they would have raised the level. */
  monitored?: MonitoredEffect[];
  deviceStatus: DeviceStatus;
  modelVersion: string;
}
