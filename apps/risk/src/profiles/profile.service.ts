// What risk knows about a subject and about the population: reading the slice scoring needs, and learning
// from accesses and challenge outcomes. Writes are atomic upserts (portable INSERT ... ON CONFLICT, SQLite
// and PostgreSQL), so concurrent consumers (an access and an outcome for the same device on two instances)
// never lose an update; the global statistics are written last and in key order, so two transactions on
// PostgreSQL lock them in the same order and hold them briefly.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { ChallengeMethod } from '@stepgate/contracts';
import type { EntityManager, ObjectLiteral } from 'typeorm';
import { In, LessThanOrEqual, MoreThan, Repository } from 'typeorm';
import { longestVelocityWindowMs } from '../scoring/signals';
import {
  FEATURES,
  type ChallengeResult,
  type Feature,
  type KnownDevice,
  type Observation,
  type Population,
  type ScoringContext,
  type ScoringPolicy,
  type SubjectProfile,
} from '../scoring/scoring.types';
import { ChallengeAttempt } from './challenge-attempt.entity';
import { Device } from './device.entity';
import { FeatureStat, FeatureTotal } from './feature-stat.entity';
import { RecentAccessRow } from './recent-access.entity';
import { RISK_DB } from './risk.data-source';
import { Sighting } from './sighting.entity';
import { SubjectState } from './subject-state.entity';

/** An access as risk records it for velocity (every access of a subject, allowed or not). */
export interface AccessRecord {
  eventId: string;
  subject: string;
  deviceId: string | null;
  clientIp: string;
  userAgent: string;
  route: string | null;
  time: number;
}

export interface ChallengeAttemptInput {
  challengeId: string;
  result: ChallengeResult;
  time: number;
  subject: string;
  deviceId: string | null;
  method: ChallengeMethod;
}

/** What scoring needs about one context: the subject's profile and the population's view of its values. */
export interface ProfileSnapshot {
  profile: SubjectProfile;
  population: Population;
}

export interface LearnLimits {
  valuesPerFeature: number;
}

// Portable SQL (PostgreSQL and SQLite): keep the earliest / latest of the stored time and :time. The
// right-hand sides of an UPDATE see the row as it was, so `last_seen_at` in them is the previous value.
const earliest = (column: string) =>
  `CASE WHEN ${column} IS NULL OR ${column} > :time THEN :time ELSE ${column} END`;
const latest = (column: string) =>
  `CASE WHEN ${column} IS NULL OR ${column} < :time THEN :time ELSE ${column} END`;
const ifNewest = (column: string, param: string) =>
  `CASE WHEN last_seen_at IS NULL OR last_seen_at <= :time THEN :${param} ELSE ${column} END`;

const emptyFeatures = (): Record<Feature, Map<string, number>> =>
  Object.fromEntries(FEATURES.map((f) => [f, new Map<string, number>()])) as Record<
    Feature,
    Map<string, number>
  >;

@Injectable()
export class ProfileService {
  constructor(
    @InjectRepository(Device, RISK_DB) private readonly devices: Repository<Device>,
    @InjectRepository(Sighting, RISK_DB) private readonly sightings: Repository<Sighting>,
    @InjectRepository(ChallengeAttempt, RISK_DB) private readonly attempts: Repository<ChallengeAttempt>,
    @InjectRepository(SubjectState, RISK_DB) private readonly subjects: Repository<SubjectState>,
    @InjectRepository(FeatureStat, RISK_DB) private readonly stats: Repository<FeatureStat>,
    @InjectRepository(FeatureTotal, RISK_DB) private readonly totals: Repository<FeatureTotal>,
    @InjectRepository(RecentAccessRow, RISK_DB) private readonly recent: Repository<RecentAccessRow>,
  ) {}

  /** The profile slice and population view scoring needs for a context; in a transaction when given its manager. */
  async load(
    context: Pick<ScoringContext, 'subject' | 'deviceId' | 'time'>,
    observation: Observation,
    policy: ScoringPolicy,
    em?: EntityManager,
  ): Promise<ProfileSnapshot> {
    const { subject, time } = context;
    // One after the other: inside a transaction they share one connection, which runs one query at a time.
    const device = context.deviceId === null ? null : await this.device(subject, context.deviceId, em);
    const sightings = await this.repo(this.sightings, em).findBy({ subject });
    const state = await this.repo(this.subjects, em).findOneBy({ subject });
    const recent = await this.repo(this.recent, em).findBy({
      subject,
      time: MoreThan(time - longestVelocityWindowMs(policy)),
    });
    const challenges = await this.repo(this.attempts, em).findBy({
      subject,
      occurredAt: MoreThan(time - policy.failureWindowSeconds * 1000),
    });
    const population = await this.population(observation, em);

    const features = emptyFeatures();
    for (const s of sightings) features[s.kind]?.set(s.value, s.seenCount);
    return {
      profile: {
        historySize: state?.accessCount ?? 0,
        device: device && knownDevice(device),
        features,
        lastTrusted:
          state && state.locatedAt !== null && state.lat !== null && state.lon !== null
            ? {
                time: state.locatedAt,
                lat: state.lat,
                lon: state.lon,
                accuracyKm: state.accuracyKm ?? 0,
                label: state.place ?? '?',
              }
            : null,
        recent: recent.map((r) => ({ time: r.time, ip: r.clientIp, deviceId: r.deviceId })),
        challenges: challenges.map((c) => ({ time: c.occurredAt, result: c.result })),
      },
      population,
    };
  }

  /** How many subjects used each observed value, and each feature's totals. */
  async population(observation: Observation, em?: EntityManager): Promise<Population> {
    const observed = FEATURES.filter((f) => observation.values[f] !== null);
    const stats =
      observed.length === 0
        ? []
        : await this.repo(this.stats, em).find({
            where: observed.map((feature) => ({ feature, value: observation.values[feature]! })),
          });
    const totals = await this.repo(this.totals, em).find();
    return Object.fromEntries(
      FEATURES.map((feature) => {
        const total = totals.find((t) => t.feature === feature);
        const stat = stats.find((s) => s.feature === feature);
        return [
          feature,
          { total: total?.subjects ?? 0, distinct: total?.distinctValues ?? 0, count: stat?.subjects ?? 0 },
        ];
      }),
    ) as Population;
  }

  device(subject: string, deviceId: string, em?: EntityManager): Promise<Device | null> {
    return this.repo(this.devices, em).findOneBy({ subject, deviceId });
  }

  /** Every access of a subject counts for velocity; rows older than the longest window are pruned. */
  async recordAccess(em: EntityManager, access: AccessRecord, policy: ScoringPolicy): Promise<void> {
    await em
      .createQueryBuilder()
      .insert()
      .into(RecentAccessRow)
      .values({
        subject: access.subject,
        eventId: access.eventId,
        time: access.time,
        clientIp: access.clientIp,
        deviceId: access.deviceId,
      })
      .orIgnore()
      .execute();
    await em
      .createQueryBuilder()
      .delete()
      .from(RecentAccessRow)
      .where('subject = :subject AND time <= :before', {
        subject: access.subject,
        before: access.time - longestVelocityWindowMs(policy),
      })
      .execute();
  }

  /**
   * Learns from an allowed access: the device is seen (with its browser and OS), every feature value counts
   * once more for the subject (and, the first time the subject uses it, once more for the population), the
   * history grows by one, and the place becomes the last trusted one if the access is the newest.
   */
  async learnAccess(
    em: EntityManager,
    access: AccessRecord,
    observation: Observation,
    limits: LearnLimits,
  ): Promise<void> {
    if (access.deviceId !== null) {
      await this.ensureDevice(em, access.subject, access.deviceId, access.time);
      await em
        .createQueryBuilder()
        .update(Device)
        .set({
          seenCount: () => 'seen_count + 1',
          firstSeenAt: () => earliest('first_seen_at'),
          lastClientIp: () => ifNewest('last_client_ip', 'ip'),
          lastUserAgent: () => ifNewest('last_user_agent', 'userAgent'),
          lastRoute: () => ifNewest('last_route', 'route'),
          browserFamily: () => ifNewest('browser_family', 'browser'),
          osFamily: () => ifNewest('os_family', 'os'),
          lastSeenAt: () => latest('last_seen_at'),
        })
        .where('subject = :subject AND device_id = :deviceId')
        .setParameters({
          subject: access.subject,
          deviceId: access.deviceId,
          time: access.time,
          ip: access.clientIp,
          userAgent: access.userAgent,
          route: access.route,
          browser: observation.values.browser,
          os: observation.values.os,
        })
        .execute();
    }
    await this.learnSubject(em, access, observation);
    const fresh = await this.sight(em, access.subject, observation, access.time);
    const dropped = await this.prune(em, access.subject, fresh, limits.valuesPerFeature);
    await this.countInPopulation(em, fresh, dropped);
  }

  /** Records a challenge result; a pass also confirms the device (creating it if risk never saw it allowed). */
  async recordChallenge(em: EntityManager, attempt: ChallengeAttemptInput): Promise<void> {
    await em
      .createQueryBuilder()
      .insert()
      .into(ChallengeAttempt)
      .values({
        challengeId: attempt.challengeId,
        result: attempt.result,
        occurredAt: attempt.time,
        subject: attempt.subject,
        deviceId: attempt.deviceId,
        method: attempt.method,
      })
      .orIgnore()
      .execute();
    if (attempt.result !== 'passed' || attempt.deviceId === null) return;
    await this.ensureDevice(em, attempt.subject, attempt.deviceId, attempt.time);
    await em
      .createQueryBuilder()
      .update(Device)
      .set({ confirmedAt: () => latest('confirmed_at') })
      .where('subject = :subject AND device_id = :deviceId', {
        subject: attempt.subject,
        deviceId: attempt.deviceId,
      })
      .setParameter('time', attempt.time)
      .execute();
  }

  /** Deletes challenge results older than `before` (scoring only looks at the failure window). */
  async pruneChallenges(before: number): Promise<number> {
    const result = await this.attempts.delete({ occurredAt: LessThanOrEqual(before) });
    return result.affected ?? 0;
  }

  devicesOf(subject: string): Promise<Device[]> {
    return this.devices.find({ where: { subject }, order: { createdAt: 'ASC', deviceId: 'ASC' } });
  }

  sightingsOf(subject: string): Promise<Sighting[]> {
    return this.sightings.find({
      where: { subject },
      order: { kind: 'ASC', seenCount: 'DESC', firstSeenAt: 'ASC' },
    });
  }

  subjectState(subject: string): Promise<SubjectState | null> {
    return this.subjects.findOneBy({ subject });
  }

  recentAccessesOf(subject: string): Promise<RecentAccessRow[]> {
    return this.recent.find({ where: { subject }, order: { time: 'DESC' } });
  }

  recentChallenges(subject: string, limit: number): Promise<ChallengeAttempt[]> {
    return this.attempts.find({ where: { subject }, order: { occurredAt: 'DESC' }, take: limit });
  }

  /** How common values are across subjects, for the admin view. */
  populationOf(pairs: { feature: Feature; value: string }[]): Promise<FeatureStat[]> {
    if (pairs.length === 0) return Promise.resolve([]);
    return this.stats.find({ where: pairs });
  }

  totalsOf(): Promise<FeatureTotal[]> {
    return this.totals.find({ where: { feature: In([...FEATURES]) } });
  }

  private async learnSubject(
    em: EntityManager,
    access: AccessRecord,
    observation: Observation,
  ): Promise<void> {
    const place = observation.place;
    // The place moves only for an access at least as new as the one it came from.
    const newer = (column: string) =>
      `CASE WHEN excluded.located_at IS NOT NULL AND (risk_subjects.located_at IS NULL OR ` +
      `risk_subjects.located_at <= excluded.located_at) THEN excluded.${column} ELSE risk_subjects.${column} END`;
    await this.exec(
      em,
      `INSERT INTO risk_subjects (subject, access_count, located_at, lat, lon, accuracy_km, place)
       VALUES (:subject, 1, :locatedAt, :lat, :lon, :accuracyKm, :place)
       ON CONFLICT (subject) DO UPDATE SET access_count = risk_subjects.access_count + 1,
         lat = ${newer('lat')}, lon = ${newer('lon')}, accuracy_km = ${newer('accuracy_km')},
         place = ${newer('place')}, located_at = ${newer('located_at')}`,
      {
        subject: access.subject,
        locatedAt: place ? access.time : null,
        lat: place?.lat ?? null,
        lon: place?.lon ?? null,
        accuracyKm: place ? Math.round(place.accuracyKm) : null,
        place: place?.label.slice(0, 64) ?? null,
      },
    );
  }

  /** Counts each observed value for the subject; returns the values the subject used for the first time. */
  private async sight(
    em: EntityManager,
    subject: string,
    observation: Observation,
    time: number,
  ): Promise<{ feature: Feature; value: string }[]> {
    const observed = FEATURES.filter((f) => observation.values[f] !== null).map((feature) => ({
      feature,
      value: observation.values[feature]!,
    }));
    if (observed.length === 0) return [];
    const params: ObjectLiteral = { subject, time };
    const rows = observed.map(({ feature, value }, i) => {
      params[`k${i}`] = feature;
      params[`v${i}`] = value;
      return `(:subject, :k${i}, :v${i}, :time, :time, 1)`;
    });
    const returned = await this.exec<{ kind: Feature; value: string; seen_count: number | string }>(
      em,
      `INSERT INTO risk_sightings (subject, kind, value, first_seen_at, last_seen_at, seen_count)
       VALUES ${rows.join(', ')}
       ON CONFLICT (subject, kind, value) DO UPDATE SET seen_count = risk_sightings.seen_count + 1,
         first_seen_at = CASE WHEN risk_sightings.first_seen_at > excluded.first_seen_at
           THEN excluded.first_seen_at ELSE risk_sightings.first_seen_at END,
         last_seen_at = CASE WHEN risk_sightings.last_seen_at < excluded.last_seen_at
           THEN excluded.last_seen_at ELSE risk_sightings.last_seen_at END
       RETURNING kind, value, seen_count`,
      params,
    );
    // A count of 1 after the upsert: the row was inserted, the value is new for the subject.
    return returned
      .filter((r) => Number(r.seen_count) === 1)
      .map((r) => ({ feature: r.kind, value: r.value }));
  }

  /** Keeps a subject's values of each feature that just grew to at most `limit`, dropping the least recent. */
  private async prune(
    em: EntityManager,
    subject: string,
    fresh: { feature: Feature }[],
    limit: number,
  ): Promise<{ feature: Feature; value: string }[]> {
    const dropped: { feature: Feature; value: string }[] = [];
    for (const feature of new Set(fresh.map((f) => f.feature))) {
      const surplus = await em.withRepository(this.sightings).find({
        select: { value: true },
        where: { subject, kind: feature },
        order: { lastSeenAt: 'DESC', value: 'ASC' },
        skip: limit,
      });
      if (surplus.length === 0) continue;
      await em.withRepository(this.sightings).delete({
        subject,
        kind: feature,
        value: In(surplus.map((s) => s.value)),
      });
      dropped.push(...surplus.map((s) => ({ feature, value: s.value })));
    }
    return dropped;
  }

  /** The population counts a value once per subject that uses it (dropped by retention: no longer). */
  private async countInPopulation(
    em: EntityManager,
    added: { feature: Feature; value: string }[],
    dropped: { feature: Feature; value: string }[],
  ): Promise<void> {
    if (added.length === 0 && dropped.length === 0) return;
    const order = (a: { feature: string; value: string }, b: { feature: string; value: string }) =>
      a.feature.localeCompare(b.feature) || a.value.localeCompare(b.value);
    const changes = [
      ...added.map((a) => ({ ...a, delta: 1 })),
      ...dropped.map((d) => ({ ...d, delta: -1 })),
    ].sort(order);
    const totals = new Map<Feature, { subjects: number; distinct: number }>();
    const tally = (feature: Feature) => {
      const t = totals.get(feature) ?? { subjects: 0, distinct: 0 };
      totals.set(feature, t);
      return t;
    };
    for (const change of changes) {
      const t = tally(change.feature);
      t.subjects += change.delta;
      const [row] = await this.exec<{ subjects: number | string }>(
        em,
        change.delta > 0
          ? `INSERT INTO risk_feature_stats (feature, value, subjects) VALUES (:feature, :value, 1)
             ON CONFLICT (feature, value) DO UPDATE SET subjects = risk_feature_stats.subjects + 1
             RETURNING subjects`
          : `UPDATE risk_feature_stats SET subjects = subjects - 1
             WHERE feature = :feature AND value = :value RETURNING subjects`,
        { feature: change.feature, value: change.value },
      );
      const now = row === undefined ? null : Number(row.subjects);
      if (change.delta > 0 && now === 1) t.distinct += 1;
      if (change.delta < 0 && now !== null && now <= 0) {
        await this.exec(em, `DELETE FROM risk_feature_stats WHERE feature = :feature AND value = :value`, {
          feature: change.feature,
          value: change.value,
        });
        t.distinct -= 1;
      }
    }
    for (const [feature, t] of [...totals].sort(([a], [b]) => a.localeCompare(b))) {
      await this.exec(
        em,
        `INSERT INTO risk_feature_totals (feature, subjects, distinct_values) VALUES (:feature, :subjects, :distinct)
         ON CONFLICT (feature) DO UPDATE SET subjects = risk_feature_totals.subjects + excluded.subjects,
           distinct_values = risk_feature_totals.distinct_values + excluded.distinct_values`,
        { feature, subjects: t.subjects, distinct: t.distinct },
      );
    }
  }

  private async ensureDevice(
    em: EntityManager,
    subject: string,
    deviceId: string,
    time: number,
  ): Promise<void> {
    await em
      .createQueryBuilder()
      .insert()
      .into(Device)
      .values({
        subject,
        deviceId,
        createdAt: time,
        seenCount: 0,
        firstSeenAt: null,
        lastSeenAt: null,
        confirmedAt: null,
        lastClientIp: null,
        lastUserAgent: null,
        lastRoute: null,
        browserFamily: null,
        osFamily: null,
      })
      .orIgnore()
      .execute();
  }

  /** Runs hand-written SQL with :named parameters on either driver; the rows it returns (RETURNING). */
  private async exec<T>(em: EntityManager, sql: string, params: ObjectLiteral): Promise<T[]> {
    const [query, values] = em.connection.driver.escapeQueryWithParameters(sql, params);
    const result: unknown = await em.query(query, values);
    // PostgreSQL answers an INSERT/UPDATE ... RETURNING with [rows, count]; SQLite with the rows.
    if (
      Array.isArray(result) &&
      result.length === 2 &&
      Array.isArray(result[0]) &&
      typeof result[1] === 'number'
    ) {
      return result[0] as T[];
    }
    return Array.isArray(result) ? (result as T[]) : [];
  }

  private repo<T extends object>(repository: Repository<T>, em: EntityManager | undefined): Repository<T> {
    return em ? em.withRepository(repository) : repository;
  }
}

function knownDevice(d: Device): KnownDevice {
  return {
    seenCount: d.seenCount,
    firstSeenAt: d.firstSeenAt,
    lastSeenAt: d.lastSeenAt,
    confirmedAt: d.confirmedAt,
    browser: d.browserFamily,
    os: d.osFamily,
  };
}
