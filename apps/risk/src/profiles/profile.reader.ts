// Reading what risk knows about subjects and the population: the slice a batch (or one question) is scored
// on, in a handful of set-based queries over typed rows with named columns, and the admin view's reads
// through the entities.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import {
  FEATURES,
  longestVelocityWindowMs,
  type ChallengeResult,
  type Feature,
  type Observation,
  type Population,
  type ScoringContext,
  type ScoringSettings,
  type SubjectProfile,
} from '@stepgate/risk-scoring';
import type { EntityManager } from 'typeorm';
import { In, Repository } from 'typeorm';
import { RISK_DB } from '../database/risk.data-source';
import { chunks, columns, num, numOrNull, run, Sql, type DbNumber } from '../database/sql';
import { ChallengeAttemptEntity } from './challenge-attempt.entity';
import { DeviceEntity } from './device.entity';
import { FeatureStatEntity, FeatureTotalEntity } from './feature-stat.entity';
import { RecentAccessEntity } from './recent-access.entity';
import { SightingEntity } from './sighting.entity';
import { SubjectStateEntity } from './subject-state.entity';
import {
  PopulationTally,
  WorkingProfile,
  type AccessRecord,
  type DeviceState,
  type StoredAccess,
  type StoredSighting,
  type WorkingSet,
} from './working-set';

/** What scoring needs about one context: the subject's profile and the population's view of its values. */
export interface ProfileSnapshot {
  profile: SubjectProfile;
  population: Population;
}

// The rows the batch path reads, column for column as the drivers return them (the entities' transformers
// do not run on raw queries, so numbers may come back as text).
interface SubjectRow {
  subject: string;
  access_count: DbNumber;
  located_at: DbNumber | null;
  lat: DbNumber | null;
  lon: DbNumber | null;
  accuracy_km: DbNumber | null;
  place: string | null;
}

interface DeviceRow {
  subject: string;
  device_id: string;
  created_at: DbNumber;
  seen_count: DbNumber;
  first_seen_at: DbNumber | null;
  last_seen_at: DbNumber | null;
  confirmed_at: DbNumber | null;
  last_client_ip: string | null;
  last_user_agent: string | null;
  last_route: string | null;
  browser_family: string | null;
  os_family: string | null;
}

interface DeviceCountRow {
  subject: string;
  devices: DbNumber;
}

interface SightingRow {
  subject: string;
  kind: Feature;
  value: string;
  seen_count: DbNumber;
  first_seen_at: DbNumber;
  last_seen_at: DbNumber;
}

interface RecentAccessDbRow {
  subject: string;
  event_id: string;
  time: DbNumber;
  client_ip: string | null;
  device_id: string | null;
}

interface ChallengeRow {
  subject: string;
  occurred_at: DbNumber;
  result: ChallengeResult;
}

interface PopulationRow {
  feature: Feature;
  value: string;
  subjects: DbNumber;
}

const SUBJECT_COLUMNS = columns<SubjectRow>({
  subject: true,
  access_count: true,
  located_at: true,
  lat: true,
  lon: true,
  accuracy_km: true,
  place: true,
});

const DEVICE_COLUMNS = columns<DeviceRow>({
  subject: true,
  device_id: true,
  created_at: true,
  seen_count: true,
  first_seen_at: true,
  last_seen_at: true,
  confirmed_at: true,
  last_client_ip: true,
  last_user_agent: true,
  last_route: true,
  browser_family: true,
  os_family: true,
});

const SIGHTING_COLUMNS = columns<SightingRow>({
  subject: true,
  kind: true,
  value: true,
  seen_count: true,
  first_seen_at: true,
  last_seen_at: true,
});

const RECENT_ACCESS_COLUMNS = columns<RecentAccessDbRow>({
  subject: true,
  event_id: true,
  time: true,
  client_ip: true,
  device_id: true,
});

const CHALLENGE_COLUMNS = columns<ChallengeRow>({ subject: true, occurred_at: true, result: true });

const POPULATION_COLUMNS = columns<PopulationRow>({ feature: true, value: true, subjects: true });

@Injectable()
export class ProfileReader {
  constructor(
    @InjectRepository(DeviceEntity, RISK_DB) private readonly devices: Repository<DeviceEntity>,
    @InjectRepository(SightingEntity, RISK_DB) private readonly sightings: Repository<SightingEntity>,
    @InjectRepository(ChallengeAttemptEntity, RISK_DB)
    private readonly attempts: Repository<ChallengeAttemptEntity>,
    @InjectRepository(SubjectStateEntity, RISK_DB) private readonly subjects: Repository<SubjectStateEntity>,
    @InjectRepository(FeatureStatEntity, RISK_DB) private readonly stats: Repository<FeatureStatEntity>,
    @InjectRepository(FeatureTotalEntity, RISK_DB) private readonly totals: Repository<FeatureTotalEntity>,
    @InjectRepository(RecentAccessEntity, RISK_DB) private readonly recent: Repository<RecentAccessEntity>,
  ) {}

  /** The profile and population view scoring needs for one context: a working set of one, changing nothing. */
  async load(
    context: Pick<ScoringContext, 'subject' | 'deviceId' | 'time'>,
    observation: Observation,
    policy: ScoringSettings,
    em: EntityManager = this.devices.manager,
  ): Promise<ProfileSnapshot> {
    const set = await this.loadWorkingSet(em, [{ access: context, observation }], policy);
    return {
      profile: set.profiles.get(context.subject)!.snapshot(context.deviceId),
      population: set.population.view(observation),
    };
  }

  device(subject: string, deviceId: string, em?: EntityManager): Promise<DeviceEntity | null> {
    return (em ? em.withRepository(this.devices) : this.devices).findOneBy({ subject, deviceId });
  }

  /**
   * Loads, in a handful of queries, everything a batch of accesses needs: each subject's profile (its devices
   * the batch uses, every value it has seen, its recent accesses and challenge results reaching back one
   * window before its earliest access) and the population's counts for every value the batch observes.
   */
  async loadWorkingSet(
    em: EntityManager,
    accesses: readonly {
      access: Pick<AccessRecord, 'subject' | 'deviceId' | 'time'>;
      observation: Observation;
    }[],
    policy: ScoringSettings,
  ): Promise<WorkingSet> {
    const earliest = new Map<string, number>();
    const devicePairs = new Map<string, [string, string]>();
    const observed = new Map<string, [Feature, string]>();
    for (const { access, observation } of accesses) {
      earliest.set(access.subject, Math.min(earliest.get(access.subject) ?? Infinity, access.time));
      if (access.deviceId !== null)
        devicePairs.set(`${access.subject}\u0000${access.deviceId}`, [access.subject, access.deviceId]);
      for (const feature of FEATURES) {
        const value = observation.values[feature];
        if (value !== null) observed.set(`${feature}\u0000${value}`, [feature, value]);
      }
    }
    const subjects = [...earliest.keys()];
    const since = Math.min(...earliest.values());
    const states = new Map<string, SubjectRow>();
    const deviceCounts = new Map<string, number>();
    const sightings = new Map<string, StoredSighting[]>();
    const devices = new Map<string, Map<string, Omit<DeviceState, 'seenDelta'>>>();
    const recent = new Map<string, StoredAccess[]>();
    const challenges = new Map<string, { time: number; result: ChallengeResult }[]>();
    const counts: { feature: Feature; value: string; subjects: number }[] = [];
    const push = <T>(map: Map<string, T[]>, subject: string, item: T) => {
      const list = map.get(subject);
      if (list) list.push(item);
      else map.set(subject, [item]);
    };

    for (const chunk of chunks(subjects)) {
      let sql = Sql.for(em);
      for (const row of await run<SubjectRow>(
        em,
        sql,
        `SELECT ${SUBJECT_COLUMNS} FROM risk_subjects WHERE subject IN (${sql.list(chunk)})`,
      )) {
        states.set(row.subject, row);
      }
      sql = Sql.for(em);
      for (const row of await run<DeviceCountRow>(
        em,
        sql,
        `SELECT subject, COUNT(*) AS devices FROM risk_devices WHERE subject IN (${sql.list(chunk)})
         GROUP BY subject`,
      )) {
        deviceCounts.set(row.subject, num(row.devices));
      }
      sql = Sql.for(em);
      for (const row of await run<SightingRow>(
        em,
        sql,
        `SELECT ${SIGHTING_COLUMNS} FROM risk_sightings WHERE subject IN (${sql.list(chunk)})`,
      )) {
        push(sightings, row.subject, {
          feature: row.kind,
          value: row.value,
          count: num(row.seen_count),
          firstSeenAt: num(row.first_seen_at),
          lastSeenAt: num(row.last_seen_at),
        });
      }
      sql = Sql.for(em);
      for (const row of await run<RecentAccessDbRow>(
        em,
        sql,
        `SELECT ${RECENT_ACCESS_COLUMNS} FROM risk_recent_accesses
         WHERE subject IN (${sql.list(chunk)}) AND time > ${sql.p(since - longestVelocityWindowMs(policy))}`,
      )) {
        push(recent, row.subject, {
          eventId: row.event_id,
          time: num(row.time),
          ip: row.client_ip,
          deviceId: row.device_id,
        });
      }
      sql = Sql.for(em);
      for (const row of await run<ChallengeRow>(
        em,
        sql,
        `SELECT ${CHALLENGE_COLUMNS} FROM risk_challenge_attempts
         WHERE subject IN (${sql.list(chunk)}) AND occurred_at > ${sql.p(since - policy.failureWindowSeconds * 1000)}`,
      )) {
        push(challenges, row.subject, { time: num(row.occurred_at), result: row.result });
      }
    }
    for (const chunk of chunks([...devicePairs.values()])) {
      const sql = Sql.for(em);
      for (const row of await run<DeviceRow>(
        em,
        sql,
        `SELECT ${DEVICE_COLUMNS} FROM risk_devices WHERE (subject, device_id) IN (VALUES ${sql.tuples(chunk)})`,
      )) {
        let byId = devices.get(row.subject);
        if (!byId) devices.set(row.subject, (byId = new Map<string, Omit<DeviceState, 'seenDelta'>>()));
        byId.set(row.device_id, deviceState(row));
      }
    }
    for (const chunk of chunks([...observed.values()])) {
      const sql = Sql.for(em);
      for (const row of await run<PopulationRow>(
        em,
        sql,
        `SELECT ${POPULATION_COLUMNS} FROM risk_feature_stats
         WHERE (feature, value) IN (VALUES ${sql.tuples(chunk)})`,
      )) {
        counts.push({ feature: row.feature, value: row.value, subjects: num(row.subjects) });
      }
    }
    const totals = new Map<Feature, { subjects: number; distinct: number }>();
    for (const t of await em.withRepository(this.totals).find()) {
      totals.set(t.feature, { subjects: t.subjects, distinct: t.distinctValues });
    }

    const profiles = new Map<string, WorkingProfile>();
    for (const subject of subjects) {
      const state = states.get(subject);
      const located = numOrNull(state?.located_at);
      profiles.set(
        subject,
        new WorkingProfile(
          subject,
          num(state?.access_count ?? 0),
          state && located !== null && state.lat !== null && state.lon !== null
            ? {
                time: located,
                lat: num(state.lat),
                lon: num(state.lon),
                accuracyKm: num(state.accuracy_km ?? 0),
                label: state.place ?? '?',
              }
            : null,
          recent.get(subject) ?? [],
          challenges.get(subject) ?? [],
          sightings.get(subject) ?? [],
          devices.get(subject) ?? new Map<string, Omit<DeviceState, 'seenDelta'>>(),
          deviceCounts.get(subject) ?? 0,
        ),
      );
    }
    return { profiles, population: new PopulationTally(counts, totals) };
  }

  devicesOf(subject: string): Promise<DeviceEntity[]> {
    return this.devices.find({ where: { subject }, order: { createdAt: 'ASC', deviceId: 'ASC' } });
  }

  sightingsOf(subject: string): Promise<SightingEntity[]> {
    return this.sightings.find({
      where: { subject },
      order: { kind: 'ASC', seenCount: 'DESC', firstSeenAt: 'ASC' },
    });
  }

  subjectState(subject: string): Promise<SubjectStateEntity | null> {
    return this.subjects.findOneBy({ subject });
  }

  recentAccessesOf(subject: string): Promise<RecentAccessEntity[]> {
    return this.recent.find({ where: { subject }, order: { time: 'DESC' } });
  }

  recentChallenges(subject: string, limit: number): Promise<ChallengeAttemptEntity[]> {
    return this.attempts.find({ where: { subject }, order: { occurredAt: 'DESC' }, take: limit });
  }

  /** How common values are across subjects, for the admin view. */
  populationOf(pairs: { feature: Feature; value: string }[]): Promise<FeatureStatEntity[]> {
    if (pairs.length === 0) return Promise.resolve([]);
    return this.stats.find({ where: pairs });
  }

  totalsOf(): Promise<FeatureTotalEntity[]> {
    return this.totals.find({ where: { feature: In([...FEATURES]) } });
  }
}

function deviceState(row: DeviceRow): Omit<DeviceState, 'seenDelta'> {
  return {
    createdAt: num(row.created_at),
    seenCount: num(row.seen_count),
    firstSeenAt: numOrNull(row.first_seen_at),
    lastSeenAt: numOrNull(row.last_seen_at),
    confirmedAt: numOrNull(row.confirmed_at),
    browser: row.browser_family,
    os: row.os_family,
    lastClientIp: row.last_client_ip,
    lastUserAgent: row.last_user_agent,
    lastRoute: row.last_route,
  };
}
