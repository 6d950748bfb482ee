// What risk knows about a subject: reading the slice scoring needs, and learning from allowed accesses and
// challenge outcomes. Every write is an atomic insert-if-missing plus an in-place update, so concurrent
// consumers (an access and an outcome for the same device on two instances) never lose an update.
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { ChallengeMethod } from '@stepgate/contracts';
import type { EntityManager } from 'typeorm';
import { MoreThan, Repository } from 'typeorm';
import { RISK_CONFIG, type RiskConfig } from '../config';
import type {
  ChallengeResult,
  KnownDevice,
  Observation,
  ScoringContext,
  SubjectProfile,
} from '../scoring/scoring.types';
import { ChallengeAttempt } from './challenge-attempt.entity';
import { Device } from './device.entity';
import { RISK_DB } from './risk.data-source';
import { Sighting, type SightingKind } from './sighting.entity';

/** An allowed access, the only kind of access risk learns from. */
export interface AllowedAccess {
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

// Portable SQL (PostgreSQL and SQLite): keep the earliest / latest of the stored time and :time. The
// right-hand sides of an UPDATE see the row as it was, so `last_seen_at` in them is the previous value.
const earliest = (column: string) =>
  `CASE WHEN ${column} IS NULL OR ${column} > :time THEN :time ELSE ${column} END`;
const latest = (column: string) =>
  `CASE WHEN ${column} IS NULL OR ${column} < :time THEN :time ELSE ${column} END`;
const ifNewest = (column: string, param: string) =>
  `CASE WHEN last_seen_at IS NULL OR last_seen_at <= :time THEN :${param} ELSE ${column} END`;

@Injectable()
export class ProfileService {
  private readonly failureWindowMs: number;

  constructor(
    @InjectRepository(Device, RISK_DB) private readonly devices: Repository<Device>,
    @InjectRepository(Sighting, RISK_DB) private readonly sightings: Repository<Sighting>,
    @InjectRepository(ChallengeAttempt, RISK_DB) private readonly attempts: Repository<ChallengeAttempt>,
    @Inject(RISK_CONFIG) config: RiskConfig,
  ) {
    this.failureWindowMs = config.failureWindowSeconds * 1000;
  }

  /** The profile slice scoring needs for a context; inside a transaction when given its manager. */
  async load(
    context: Pick<ScoringContext, 'subject' | 'deviceId' | 'time'>,
    em?: EntityManager,
  ): Promise<SubjectProfile> {
    // One after the other: inside a transaction they share one connection, which runs one query at a time.
    const device =
      context.deviceId === null ? null : await this.device(context.subject, context.deviceId, em);
    const sightings = await this.repo(this.sightings, em).findBy({ subject: context.subject });
    const challenges = await this.repo(this.attempts, em).findBy({
      subject: context.subject,
      occurredAt: MoreThan(context.time - this.failureWindowMs),
    });
    const valuesOf = (kind: SightingKind) =>
      new Set(sightings.filter((s) => s.kind === kind).map((s) => s.value));
    return {
      device: device && knownDevice(device),
      networks: valuesOf('network'),
      countries: valuesOf('country'),
      challenges: challenges.map((c) => ({ time: c.occurredAt, result: c.result })),
    };
  }

  device(subject: string, deviceId: string, em?: EntityManager): Promise<Device | null> {
    return this.repo(this.devices, em).findOneBy({ subject, deviceId });
  }

  /** Learns from an allowed access: the device is seen, its network and country become known. */
  async learnAccess(em: EntityManager, access: AllowedAccess, observation: Observation): Promise<void> {
    if (access.deviceId !== null) {
      await this.ensureDevice(em, access.subject, access.deviceId, access.time);
      await em
        .createQueryBuilder()
        .update(Device)
        .set({
          seenCount: () => 'seen_count + 1',
          firstSeenAt: () => earliest('first_seen_at'),
          lastSeenAt: () => latest('last_seen_at'),
          lastClientIp: () => ifNewest('last_client_ip', 'ip'),
          lastUserAgent: () => ifNewest('last_user_agent', 'userAgent'),
          lastRoute: () => ifNewest('last_route', 'route'),
        })
        .where('subject = :subject AND device_id = :deviceId')
        .setParameters({
          subject: access.subject,
          deviceId: access.deviceId,
          time: access.time,
          ip: access.clientIp,
          userAgent: access.userAgent,
          route: access.route,
        })
        .execute();
    }
    if (observation.network !== null)
      await this.sight(em, access.subject, 'network', observation.network, access.time);
    if (observation.country !== null)
      await this.sight(em, access.subject, 'country', observation.country, access.time);
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

  devicesOf(subject: string): Promise<Device[]> {
    return this.devices.find({ where: { subject }, order: { createdAt: 'ASC', deviceId: 'ASC' } });
  }

  sightingsOf(subject: string): Promise<Sighting[]> {
    return this.sightings.find({ where: { subject }, order: { kind: 'ASC', firstSeenAt: 'ASC' } });
  }

  recentChallenges(subject: string, limit: number): Promise<ChallengeAttempt[]> {
    return this.attempts.find({ where: { subject }, order: { occurredAt: 'DESC' }, take: limit });
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
      })
      .orIgnore()
      .execute();
  }

  private async sight(
    em: EntityManager,
    subject: string,
    kind: SightingKind,
    value: string,
    time: number,
  ): Promise<void> {
    await em
      .createQueryBuilder()
      .insert()
      .into(Sighting)
      .values({ subject, kind, value, firstSeenAt: time, lastSeenAt: time, seenCount: 0 })
      .orIgnore()
      .execute();
    await em
      .createQueryBuilder()
      .update(Sighting)
      .set({
        seenCount: () => 'seen_count + 1',
        firstSeenAt: () => earliest('first_seen_at'),
        lastSeenAt: () => latest('last_seen_at'),
      })
      .where('subject = :subject AND kind = :kind AND value = :value', { subject, kind, value })
      .setParameter('time', time)
      .execute();
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
  };
}
