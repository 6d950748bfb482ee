// The vocabulary of scoring: what is being scored, what risk knows about the subject, and the tunables.
// Plain data only, so the model and its signals stay pure and testable without a container.
import type { DeviceStatus, RiskLevel, RiskSignal } from '@stepgate/contracts';

/** One access (or an access the gateway is about to allow) to score. Times are epoch milliseconds. */
export interface ScoringContext {
  subject: string;
  deviceId: string | null;
  /** Null when scoring without a request in hand (after a challenge, for a device never seen on an allowed access). */
  clientIp: string | null;
  userAgent: string | null;
  route: string | null;
  /** The moment the score is for: windows (failed challenges) end here. */
  time: number;
}

/** What the context's IP tells us, derived once and used both to score and to learn. */
export interface Observation {
  /** The /24 (IPv4) or /48 (IPv6) the client IP belongs to. */
  network: string | null;
  /** ISO country of a public client IP, when the geo database knows it. */
  country: string | null;
}

export interface KnownDevice {
  /** Allowed accesses seen from this device; 0 for a device only ever confirmed by a challenge. */
  seenCount: number;
  firstSeenAt: number | null;
  lastSeenAt: number | null;
  /** Last passed challenge on this device, if any. */
  confirmedAt: number | null;
}

export type ChallengeResult = 'passed' | 'failed' | 'locked';

/** The slice of a subject's profile that scoring needs. */
export interface SubjectProfile {
  /** The context's device, or null when it was never seen (or the context has no device id). */
  device: KnownDevice | null;
  networks: ReadonlySet<string>;
  countries: ReadonlySet<string>;
  /** Recent challenge results of the subject (at least those in the failure window). */
  challenges: readonly { time: number; result: ChallengeResult }[];
}

export interface RiskWeights {
  newDevice: number;
  unconfirmedDevice: number;
  newNetwork: number;
  newCountry: number;
  failedChallenge: number;
  failedChallengeMax: number;
}

/** Score at or above which each level starts. */
export interface RiskThresholds {
  medium: number;
  high: number;
  critical: number;
}

export interface ScoringPolicy {
  weights: RiskWeights;
  thresholds: RiskThresholds;
  failureWindowSeconds: number;
}

/** Everything a signal may look at. */
export interface SignalInput {
  context: ScoringContext;
  profile: SubjectProfile;
  observation: Observation;
  policy: ScoringPolicy;
}

/** A signal either fires, with its weight and a reason a human can read, or stays silent. */
export type Signal = (input: SignalInput) => RiskSignal | null;

export interface Score {
  score: number;
  level: RiskLevel;
  signals: RiskSignal[];
  deviceStatus: DeviceStatus;
  modelVersion: string;
}

/** Country of a public IP, or null; geoip-lite in the app, a table in tests. */
export type GeoLookup = (ip: string) => string | null;
