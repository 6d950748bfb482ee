// Learning: writing back what a batch of accesses changed and recording challenge outcomes. Writes are atomic
// upserts (portable INSERT ... ON CONFLICT, SQLite and PostgreSQL), so concurrent consumers (an access and an
// outcome for the same device on two instances) never lose an update; the global statistics are written last
// and in key order, so two transactions on PostgreSQL lock them in the same order and hold them briefly.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { ChallengeMethod } from '@stepgate/contracts';
import {
  longestVelocityWindowMs,
  type ChallengeResult,
  type Feature,
  type ScoringSettings,
} from '@stepgate/risk-scoring';
import type { EntityManager } from 'typeorm';
import { LessThanOrEqual, Repository } from 'typeorm';
import { RISK_DB } from '../database/risk.data-source';
import { chunks, insertChunks, num, run, Sql, type ColumnType, type DbNumber } from '../database/sql';
import { ChallengeAttemptEntity } from './challenge-attempt.entity';
import { DeviceEntity } from './device.entity';
import type { WorkingProfile, WorkingSet } from './working-set';

export interface ChallengeAttemptInput {
  challengeId: string;
  result: ChallengeResult;
  time: number;
  subject: string;
  deviceId: string | null;
  method: ChallengeMethod;
}

/** A change in how many subjects use a value. */
export interface PopulationChange {
  feature: Feature;
  value: string;
  delta: number;
}

// Portable SQL (PostgreSQL and SQLite): keep the earliest / latest of the stored time and :time. The
// right-hand sides of an UPDATE see the row as it was, so `last_seen_at` in them is the previous value.
const latest = (column: string) =>
  `CASE WHEN ${column} IS NULL OR ${column} < :time THEN :time ELSE ${column} END`;

@Injectable()
export class ProfileWriter {
  constructor(
    @InjectRepository(ChallengeAttemptEntity, RISK_DB)
    private readonly attempts: Repository<ChallengeAttemptEntity>,
  ) {}

  /**
   * Writes back what a batch changed, as merges that compose with concurrent writers: counts as increments,
   * first and last times as min and max, a device's last context and the subject's place only if newer.
   */
  async saveWorkingSet(em: EntityManager, set: WorkingSet, policy: ScoringSettings): Promise<void> {
    const profiles = [...set.profiles.values()];
    await this.saveSubjects(em, profiles);
    await this.saveDevices(em, profiles);
    const population = await this.saveSightings(em, profiles);
    await this.saveRecentAccesses(em, profiles, policy);
    await this.savePopulation(em, population);
  }

  private async saveSubjects(em: EntityManager, profiles: WorkingProfile[]): Promise<void> {
    const rows = profiles
      .filter((p) => p.accessDelta > 0)
      .map((p) => {
        const place = p.newPlace;
        return [
          p.subject,
          p.accessDelta,
          place?.time ?? null,
          place?.lat ?? null,
          place?.lon ?? null,
          place ? Math.round(place.accuracyKm) : null,
          place?.label.slice(0, 64) ?? null,
        ];
      });
    // The place moves only for an access at least as new as the one it came from.
    const newer = (column: string) =>
      `CASE WHEN excluded.located_at IS NOT NULL AND (risk_subjects.located_at IS NULL OR ` +
      `risk_subjects.located_at <= excluded.located_at) THEN excluded.${column} ELSE risk_subjects.${column} END`;
    for (const chunk of insertChunks(em, rows)) {
      const sql = Sql.for(em);
      await run(
        em,
        sql,
        `INSERT INTO risk_subjects (subject, access_count, located_at, lat, lon, accuracy_km, place)
         ${sql.rows(chunk, ['text', 'int', 'bigint', 'float8', 'float8', 'int', 'text'])}
         ON CONFLICT (subject) DO UPDATE SET access_count = risk_subjects.access_count + excluded.access_count,
           lat = ${newer('lat')}, lon = ${newer('lon')}, accuracy_km = ${newer('accuracy_km')},
           place = ${newer('place')}, located_at = ${newer('located_at')}`,
      );
    }
  }

  private async saveDevices(em: EntityManager, profiles: WorkingProfile[]): Promise<void> {
    const rows = profiles.flatMap((p) =>
      p
        .learnedDevices()
        .map(([id, d]) => [
          p.subject,
          id,
          d.createdAt,
          d.seenDelta,
          d.firstSeenAt,
          d.lastSeenAt,
          d.lastClientIp,
          d.lastUserAgent,
          d.lastRoute,
          d.browser,
          d.os,
        ]),
    );
    const newer = `risk_devices.last_seen_at IS NULL OR risk_devices.last_seen_at <= excluded.last_seen_at`;
    const ifNewer = (column: string) =>
      `CASE WHEN ${newer} THEN excluded.${column} ELSE risk_devices.${column} END`;
    // A family is never replaced by a missing one, and an older access only fills one never learned.
    const family = (column: string) =>
      `CASE WHEN ${newer} THEN COALESCE(excluded.${column}, risk_devices.${column}) ` +
      `ELSE COALESCE(risk_devices.${column}, excluded.${column}) END`;
    const types: ColumnType[] = ['text', 'text', 'bigint', 'int', 'bigint', 'bigint'];
    for (const chunk of insertChunks(em, rows)) {
      const sql = Sql.for(em);
      // confirmed_at is the challenge outcomes' to set: an access never touches it.
      await run(
        em,
        sql,
        `INSERT INTO risk_devices (subject, device_id, created_at, seen_count, first_seen_at, last_seen_at,
           last_client_ip, last_user_agent, last_route, browser_family, os_family)
         ${sql.rows(chunk, [...types, 'text', 'text', 'text', 'text', 'text'])}
         ON CONFLICT (subject, device_id) DO UPDATE SET seen_count = risk_devices.seen_count + excluded.seen_count,
           first_seen_at = CASE WHEN risk_devices.first_seen_at IS NULL OR risk_devices.first_seen_at > excluded.first_seen_at
             THEN excluded.first_seen_at ELSE risk_devices.first_seen_at END,
           last_client_ip = ${ifNewer('last_client_ip')}, last_user_agent = ${ifNewer('last_user_agent')},
           last_route = ${ifNewer('last_route')}, browser_family = ${family('browser_family')},
           os_family = ${family('os_family')}, last_seen_at = ${ifNewer('last_seen_at')}`,
      );
    }
  }

  /**
   * Writes the batch's feature values: first the values retention dropped, then the learned ones as
   * increments. Returns how the population changes, read off what the database did (a deleted row: one
   * subject fewer uses the value; an inserted row: one more), so it stays exact even when two instances
   * touch one subject during a rebalance, and when a value is dropped and learned again in one batch.
   */
  private async saveSightings(em: EntityManager, profiles: WorkingProfile[]): Promise<PopulationChange[]> {
    const changes = new Map<string, PopulationChange>();
    const count = (feature: Feature, value: string, delta: number) => {
      const key = `${feature}\u0000${value}`;
      const c = changes.get(key) ?? { feature, value, delta: 0 };
      c.delta += delta;
      changes.set(key, c);
    };
    const dropped = profiles.flatMap((p) => p.dropped.map((d) => [p.subject, d.feature, d.value]));
    for (const chunk of chunks(dropped)) {
      const sql = Sql.for(em);
      const gone = await run<{ kind: Feature; value: string }>(
        em,
        sql,
        `DELETE FROM risk_sightings WHERE (subject, kind, value) IN (VALUES ${sql.tuples(chunk)})
         RETURNING kind, value`,
      );
      for (const row of gone) count(row.kind, row.value, -1);
    }
    const learned = profiles.flatMap((p) => p.learnedSightings().map((s) => ({ subject: p.subject, ...s })));
    for (const chunk of insertChunks(em, learned)) {
      const sql = Sql.for(em);
      const rows = chunk.map((s) => [s.subject, s.feature, s.value, s.firstSeenAt, s.lastSeenAt, s.delta]);
      const written = await run<{
        subject: string;
        kind: Feature;
        value: string;
        seen_count: DbNumber;
      }>(
        em,
        sql,
        `INSERT INTO risk_sightings (subject, kind, value, first_seen_at, last_seen_at, seen_count)
         ${sql.rows(rows, ['text', 'text', 'text', 'bigint', 'bigint', 'int'])}
         ON CONFLICT (subject, kind, value) DO UPDATE SET seen_count = risk_sightings.seen_count + excluded.seen_count,
           first_seen_at = CASE WHEN risk_sightings.first_seen_at > excluded.first_seen_at
             THEN excluded.first_seen_at ELSE risk_sightings.first_seen_at END,
           last_seen_at = CASE WHEN risk_sightings.last_seen_at < excluded.last_seen_at
             THEN excluded.last_seen_at ELSE risk_sightings.last_seen_at END
         RETURNING subject, kind, value, seen_count`,
      );
      const deltas = new Map(chunk.map((s) => [`${s.subject}\u0000${s.feature}\u0000${s.value}`, s.delta]));
      for (const row of written) {
        // As many as this batch added: the row was inserted, the value is new for the subject.
        const delta = deltas.get(`${row.subject}\u0000${row.kind}\u0000${row.value}`);
        if (delta !== undefined && num(row.seen_count) === delta) count(row.kind, row.value, 1);
      }
    }
    return [...changes.values()]
      .filter((c) => c.delta !== 0)
      .sort((x, y) => compareText(x.feature, y.feature) || compareText(x.value, y.value));
  }

  /** Every access counts for velocity; rows older than the longest window before the batch are pruned. */
  private async saveRecentAccesses(
    em: EntityManager,
    profiles: WorkingProfile[],
    policy: ScoringSettings,
  ): Promise<void> {
    for (const p of profiles) p.trimVelocity(policy.velocity);
    const forgotten = profiles.flatMap((p) => p.forgotten.map((id) => [p.subject, id]));
    for (const chunk of chunks(forgotten)) {
      const sql = Sql.for(em);
      await run(
        em,
        sql,
        `DELETE FROM risk_recent_accesses WHERE (subject, event_id) IN (VALUES ${sql.tuples(chunk)})`,
      );
    }
    const accesses = profiles.flatMap((p) => p.newAccesses);
    const rows = accesses.map((a) => [a.subject, a.eventId, a.time, a.clientIp, a.deviceId]);
    for (const chunk of insertChunks(em, rows)) {
      const sql = Sql.for(em);
      await run(
        em,
        sql,
        `INSERT INTO risk_recent_accesses (subject, event_id, time, client_ip, device_id)
         ${sql.rows(chunk, ['text', 'text', 'bigint', 'text', 'text'])} ON CONFLICT DO NOTHING`,
      );
    }
    if (accesses.length === 0) return;
    const before = Math.min(...accesses.map((a) => a.time)) - longestVelocityWindowMs(policy);
    for (const chunk of chunks(profiles.filter((p) => p.newAccesses.length > 0).map((p) => p.subject))) {
      const sql = Sql.for(em);
      await run(
        em,
        sql,
        `DELETE FROM risk_recent_accesses WHERE subject IN (${sql.list(chunk)}) AND time <= ${sql.p(before)}`,
      );
    }
  }

  /**
   * The population counts a value once per subject that uses it. Applied as increments, in (feature, value)
   * order so that two transactions on PostgreSQL lock the rows in the same order; whether a value appeared
   * or vanished is read off the new count, so the distinct totals stay exact with concurrent writers.
   */
  private async savePopulation(em: EntityManager, changes: readonly PopulationChange[]): Promise<void> {
    if (changes.length === 0) return;
    const totals = new Map<Feature, { subjects: number; distinct: number }>();
    const emptied: [Feature, string][] = [];
    for (const chunk of insertChunks(em, changes)) {
      const sql = Sql.for(em);
      const rows = await run<{ feature: Feature; value: string; subjects: DbNumber }>(
        em,
        sql,
        `INSERT INTO risk_feature_stats (feature, value, subjects)
         ${sql.rows(
           chunk.map((c) => [c.feature, c.value, c.delta]),
           ['text', 'text', 'int'],
         )}
         ON CONFLICT (feature, value) DO UPDATE SET subjects = risk_feature_stats.subjects + excluded.subjects
         RETURNING feature, value, subjects`,
      );
      const after = new Map(rows.map((r) => [`${r.feature}\u0000${r.value}`, num(r.subjects)]));
      for (const c of chunk) {
        const now = after.get(`${c.feature}\u0000${c.value}`) ?? 0;
        const was = now - c.delta;
        const t = totals.get(c.feature) ?? { subjects: 0, distinct: 0 };
        totals.set(c.feature, t);
        t.subjects += c.delta;
        if (was <= 0 && now > 0) t.distinct += 1;
        if (was > 0 && now <= 0) t.distinct -= 1;
        if (now <= 0) emptied.push([c.feature, c.value]);
      }
    }
    for (const chunk of chunks(emptied)) {
      const sql = Sql.for(em);
      await run(
        em,
        sql,
        `DELETE FROM risk_feature_stats WHERE subjects <= 0 AND (feature, value) IN (VALUES ${sql.tuples(chunk)})`,
      );
    }
    const rows = [...totals]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([feature, t]) => [feature, t.subjects, t.distinct]);
    const sql = Sql.for(em);
    await run(
      em,
      sql,
      `INSERT INTO risk_feature_totals (feature, subjects, distinct_values) VALUES ${sql.tuples(rows)}
       ON CONFLICT (feature) DO UPDATE SET subjects = risk_feature_totals.subjects + excluded.subjects,
         distinct_values = risk_feature_totals.distinct_values + excluded.distinct_values`,
    );
  }

  /**
   * Records a challenge result; a pass with a factor (not a recovery code) also confirms the device, creating
   * it if risk never saw it allowed.
   */
  async recordChallenge(em: EntityManager, attempt: ChallengeAttemptInput): Promise<void> {
    await em
      .createQueryBuilder()
      .insert()
      .into(ChallengeAttemptEntity)
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
    // A recovery code is the last resort of someone who lost their factors: it lets this access through,
    // but says nothing about whether the device is theirs, so it never confirms one.
    if (attempt.result !== 'passed' || attempt.deviceId === null || attempt.method === 'recovery_code')
      return;
    await this.ensureDevice(em, attempt.subject, attempt.deviceId, attempt.time);
    await em
      .createQueryBuilder()
      .update(DeviceEntity)
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

  private async ensureDevice(
    em: EntityManager,
    subject: string,
    deviceId: string,
    time: number,
  ): Promise<void> {
    await em
      .createQueryBuilder()
      .insert()
      .into(DeviceEntity)
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
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
