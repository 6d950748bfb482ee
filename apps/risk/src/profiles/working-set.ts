// The profiles a batch of access events touches, held in memory while the batch is applied: each event is
// scored against the state its predecessors left (so a batch decides exactly as one-at-a-time would) and
// learned into it, and what changed is kept as deltas that ProfileWriter writes back in one transaction.
// Deltas, not absolute values: an instance that briefly shares a subject with another during a rebalance,
// or a challenge outcome confirming a device meanwhile, composes instead of being overwritten. Pure: no I/O.
import type { DeviceSource } from '@stepgate/contracts';
import {
  FEATURES,
  isNone,
  type ChallengeResult,
  type Feature,
  type KnownDevice,
  type Observation,
  type Population,
  type RecentAccess,
  type ScoringSettings,
  type SubjectProfile,
  type TrustedPlace,
} from '@stepgate/risk-scoring';

/** An access as risk records it for velocity (every access of a subject, allowed or not). */
export interface AccessRecord {
  eventId: string;
  subject: string;
  deviceId: string | null;
  deviceSource: DeviceSource | null;
  clientIp: string;
  userAgent: string;
  route: string | null;
  time: number;
}

/** A velocity-window access as stored (the event id names its row). */
export interface StoredAccess extends RecentAccess {
  eventId: string;
}

/**
 * The accesses velocity needs, newest first: the newest `requests.max + 1` (enough to tell whether the
 * request limit is passed) and the newest access of each of the newest `ips.max + 1` distinct IPs and
 * `devices.max + 1` distinct devices. Every velocity signal decides exactly as it would on all of them, for
 * accesses arriving in time order; a counted detail says at most one above the limit. Without this bound a
 * busy subject (a service account, a scripted attack) would make every batch load its whole hour.
 */
export function velocityEvidence<T extends RecentAccess>(
  recent: readonly T[],
  velocity: ScoringSettings['velocity'],
): T[] {
  const newest = [...recent].sort((a, b) => b.time - a.time);
  const keep = new Set<T>(newest.slice(0, velocity.requests.max + 1));
  const ips = new Set<string>();
  const devices = new Set<string>();
  // An access without an IP or a device says nothing about distinct IPs or devices (the signals skip it).
  for (const a of newest) {
    if (a.ip !== null && !ips.has(a.ip) && ips.size <= velocity.ips.max) {
      ips.add(a.ip);
      keep.add(a);
    }
    if (a.deviceId !== null && !devices.has(a.deviceId) && devices.size <= velocity.devices.max) {
      devices.add(a.deviceId);
      keep.add(a);
    }
  }
  return newest.filter((a) => keep.has(a));
}

export interface LearnLimits {
  valuesPerFeature: number;
}

export interface DeviceState extends KnownDevice {
  createdAt: number;
  lastClientIp: string | null;
  lastUserAgent: string | null;
  lastRoute: string | null;
  /** Allowed accesses learned in this batch (added to the stored count on write). */
  seenDelta: number;
}

interface SightingState {
  count: number;
  firstSeenAt: number;
  lastSeenAt: number;
  /** Accesses learned in this batch. */
  delta: number;
  /** The row exists in the database (so dropping it is a delete). */
  stored: boolean;
}

export interface StoredSighting {
  feature: Feature;
  value: string;
  count: number;
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface FeatureValue {
  feature: Feature;
  value: string;
}

const sightingKey = (feature: Feature, value: string) => `${feature}\u0000${value}`;

export class WorkingProfile {
  /** Per feature, value -> accesses: the view scoring reads. */
  readonly features = Object.fromEntries(FEATURES.map((f) => [f, new Map<string, number>()])) as Record<
    Feature,
    Map<string, number>
  >;
  private readonly sightings = new Map<string, SightingState>();
  readonly devices = new Map<string, DeviceState>();
  /** Stored sightings dropped by retention in this batch. */
  readonly dropped: FeatureValue[] = [];
  /** Accesses of this batch to store for velocity. */
  newAccesses: AccessRecord[] = [];
  /** Stored velocity rows no longer needed (see velocityEvidence). */
  readonly forgotten: string[] = [];
  private readonly storedAccesses: Set<string>;
  private recent: StoredAccess[];
  accessDelta = 0;
  /** The place learned in this batch, when it moved. */
  newPlace: TrustedPlace | null = null;

  constructor(
    readonly subject: string,
    private accessCount: number,
    public lastTrusted: TrustedPlace | null,
    recent: readonly StoredAccess[],
    private readonly challenges: { time: number; result: ChallengeResult }[],
    sightings: readonly StoredSighting[],
    devices: ReadonlyMap<string, Omit<DeviceState, 'seenDelta'>>,
    /** All the subject's stored devices (`devices` holds only those the batch uses). */
    private deviceCount: number = devices.size,
  ) {
    for (const s of sightings) {
      this.sightings.set(sightingKey(s.feature, s.value), { ...s, delta: 0, stored: true });
      this.features[s.feature].set(s.value, s.count);
    }
    for (const [id, d] of devices) this.devices.set(id, { ...d, seenDelta: 0 });
    this.recent = [...recent];
    this.storedAccesses = new Set(recent.map((a) => a.eventId));
  }

  /** What scoring sees for an access on `deviceId` (signals filter recent accesses and failures by time). */
  snapshot(deviceId: string | null): SubjectProfile {
    const device = deviceId === null ? undefined : this.devices.get(deviceId);
    return {
      historySize: this.accessCount,
      device: device ? knownDevice(device) : null,
      deviceCount: this.deviceCount,
      features: this.features,
      lastTrusted: this.lastTrusted,
      recent: this.recent,
      challenges: this.challenges,
    };
  }

  /** Every access counts for velocity, allowed or not; what velocity no longer needs is let go. */
  recordAccess(access: AccessRecord, velocity: ScoringSettings['velocity']): void {
    this.recent.push({
      eventId: access.eventId,
      time: access.time,
      ip: access.clientIp,
      deviceId: access.deviceId,
    });
    this.newAccesses.push(access);
    const bound = velocity.requests.max + velocity.ips.max + velocity.devices.max + 3;
    if (this.recent.length > 2 * bound) this.trimVelocity(velocity);
  }

  /** Keeps only the velocity evidence: dropped stored rows are forgotten, dropped new ones never stored. */
  trimVelocity(velocity: ScoringSettings['velocity']): void {
    const kept = velocityEvidence(this.recent, velocity);
    const keptIds = new Set(kept.map((a) => a.eventId));
    for (const a of this.recent) {
      if (!keptIds.has(a.eventId) && this.storedAccesses.delete(a.eventId)) this.forgotten.push(a.eventId);
    }
    this.newAccesses = this.newAccesses.filter((a) => keptIds.has(a.eventId));
    this.recent = kept;
  }

  /**
   * Learns an allowed access: the device is seen (with its browser and OS), every observed value counts once
   * more (a value new to the subject counts once more in the population), the history grows by one, and the
   * place becomes the last trusted one if the access is the newest. Values beyond the retention limit go,
   * least recent first, and leave the population.
   */
  learnAccess(
    access: AccessRecord,
    observation: Observation,
    limits: LearnLimits,
    population: PopulationTally,
  ): void {
    if (access.deviceId !== null) this.seeDevice(access, observation);
    this.accessCount += 1;
    this.accessDelta += 1;
    const place = observation.place;
    if (place && (this.lastTrusted === null || this.lastTrusted.time <= access.time)) {
      this.lastTrusted = this.newPlace = { ...place, time: access.time };
    }
    for (const feature of FEATURES) {
      const value = observation.values[feature];
      if (value === null) continue;
      const key = sightingKey(feature, value);
      const s = this.sightings.get(key);
      if (s) {
        s.count += 1;
        s.delta += 1;
        s.firstSeenAt = Math.min(s.firstSeenAt, access.time);
        s.lastSeenAt = Math.max(s.lastSeenAt, access.time);
      } else {
        const t = access.time;
        this.sightings.set(key, { count: 1, firstSeenAt: t, lastSeenAt: t, delta: 1, stored: false });
        population.add(feature, value);
      }
      this.features[feature].set(value, this.sightings.get(key)!.count);
      if (this.features[feature].size > limits.valuesPerFeature) this.prune(feature, limits, population);
    }
  }

  /**
   * An allowed access risk does not learn (riskier than low on a route that let it through) still makes a
   * device new to the subject a seen one, so its user can, for example, enrol a first factor from it. It
   * teaches nothing about its context: no browser or OS for the device, no feature value, no history, and a
   * device the subject already has is left as it was (a copied id cannot rewrite what is known of it).
   */
  sightDevice(access: AccessRecord): void {
    const id = access.deviceId;
    if (id === null || this.devices.has(id)) return;
    this.devices.set(id, {
      createdAt: access.time,
      seenCount: 1,
      firstSeenAt: access.time,
      lastSeenAt: access.time,
      confirmedAt: null,
      browser: null,
      os: null,
      lastClientIp: access.clientIp,
      lastUserAgent: access.userAgent,
      lastRoute: access.route,
      seenDelta: 1,
    });
    this.deviceCount += 1;
  }

  /** The sightings learned in this batch, with their deltas. */
  learnedSightings(): (StoredSighting & { delta: number })[] {
    const out: (StoredSighting & { delta: number })[] = [];
    for (const [feature, values] of Object.entries(this.features) as [Feature, Map<string, number>][]) {
      for (const value of values.keys()) {
        const s = this.sightings.get(sightingKey(feature, value))!;
        if (s.delta > 0) out.push({ feature, value, ...s });
      }
    }
    return out;
  }

  /** Devices learned in this batch. */
  learnedDevices(): [string, DeviceState][] {
    return [...this.devices].filter(([, d]) => d.seenDelta > 0);
  }

  private seeDevice(access: AccessRecord, observation: Observation): void {
    const id = access.deviceId!;
    let d = this.devices.get(id);
    if (!d) {
      d = {
        createdAt: access.time,
        seenCount: 0,
        firstSeenAt: null,
        lastSeenAt: null,
        confirmedAt: null,
        browser: null,
        os: null,
        lastClientIp: null,
        lastUserAgent: null,
        lastRoute: null,
        seenDelta: 0,
      };
      // The batch loaded every device it uses: one not loaded is new to the subject.
      this.devices.set(id, d);
      this.deviceCount += 1;
    }
    d.seenCount += 1;
    d.seenDelta += 1;
    d.firstSeenAt = d.firstSeenAt === null ? access.time : Math.min(d.firstSeenAt, access.time);
    // A family the access did not tell never replaces a learned one (an empty User-Agent must not erase
    // what device_context_changed compares against); an older access only fills one never learned.
    const told = (v: string | null) => (v === null || isNone(v) ? null : v);
    const browser = told(observation.values.browser);
    const os = told(observation.values.os);
    if (d.lastSeenAt === null || d.lastSeenAt <= access.time) {
      d.lastSeenAt = access.time;
      d.lastClientIp = access.clientIp;
      d.lastUserAgent = access.userAgent;
      d.lastRoute = access.route;
      d.browser = browser ?? d.browser;
      d.os = os ?? d.os;
    } else {
      d.browser ??= browser;
      d.os ??= os;
    }
  }

  /** Keeps the `valuesPerFeature` most recently seen values of a feature (ties: the smaller value stays). */
  private prune(feature: Feature, limits: LearnLimits, population: PopulationTally): void {
    const values = [...this.features[feature].keys()]
      .map((value) => ({ value, last: this.sightings.get(sightingKey(feature, value))!.lastSeenAt }))
      .sort((a, b) => b.last - a.last || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    for (const { value } of values.slice(limits.valuesPerFeature)) {
      const key = sightingKey(feature, value);
      if (this.sightings.get(key)!.stored) this.dropped.push({ feature, value });
      this.sightings.delete(key);
      this.features[feature].delete(value);
      population.remove(feature, value);
    }
  }
}

/**
 * How many subjects use each value, for the values a batch observes, plus each feature's totals: loaded once
 * per batch and kept current as the batch learns, so each access is scored against what the ones before it
 * taught. (What is written back is read off the database's own answers: see ProfileWriter.saveSightings.)
 */
/** The profiles and population counts one batch is applied to (ProfileReader loads it, ProfileWriter saves it). */
export interface WorkingSet {
  profiles: Map<string, WorkingProfile>;
  population: PopulationTally;
}

export class PopulationTally {
  private readonly counts = new Map<string, number>();

  constructor(
    counts: readonly { feature: Feature; value: string; subjects: number }[],
    private readonly totals: Map<Feature, { subjects: number; distinct: number }>,
  ) {
    for (const c of counts) this.counts.set(sightingKey(c.feature, c.value), c.subjects);
  }

  view(observation: Observation): Population {
    return Object.fromEntries(
      FEATURES.map((feature) => {
        const value = observation.values[feature];
        const total = this.totals.get(feature);
        const count = value === null ? 0 : (this.counts.get(sightingKey(feature, value)) ?? 0);
        return [feature, { total: total?.subjects ?? 0, distinct: total?.distinct ?? 0, count }];
      }),
    ) as Population;
  }

  add(feature: Feature, value: string): void {
    this.change(feature, value, 1);
  }

  remove(feature: Feature, value: string): void {
    this.change(feature, value, -1);
  }

  private change(feature: Feature, value: string, delta: number): void {
    const key = sightingKey(feature, value);
    const before = this.counts.get(key) ?? 0;
    const after = Math.max(0, before + delta);
    this.counts.set(key, after);
    const total = this.totals.get(feature) ?? { subjects: 0, distinct: 0 };
    this.totals.set(feature, total);
    total.subjects += delta;
    if (before === 0 && after > 0) total.distinct += 1;
    if (before > 0 && after === 0) total.distinct -= 1;
  }
}

function knownDevice(d: DeviceState): KnownDevice {
  return {
    seenCount: d.seenCount,
    firstSeenAt: d.firstSeenAt,
    lastSeenAt: d.lastSeenAt,
    confirmedAt: d.confirmedAt,
    browser: d.browser,
    os: d.os,
  };
}
