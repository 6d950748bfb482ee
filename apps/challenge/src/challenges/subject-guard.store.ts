// The per-subject guard row and its compare-and-set: every admission reads the row, decides with the pure
// rules in subject-limits.ts, and writes only if nobody changed the row meanwhile (retrying if someone did).
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { CHALLENGE_DB } from '../database/challenge-database';
import { SubjectGuardEntity } from './subject-guard.entity';
import { admit, isLocked, type Admission, type LockoutSettings } from './subject-limits';

/** Bounds the retries of one admission under contention; losing this often fails closed. */
const MAX_ROUNDS = 200;

@Injectable()
export class SubjectGuardStore {
  private readonly policy: LockoutSettings;

  constructor(
    @InjectRepository(SubjectGuardEntity, CHALLENGE_DB)
    private readonly guards: Repository<SubjectGuardEntity>,
    @Inject(CHALLENGE_CONFIG) config: ChallengeConfig,
  ) {
    this.policy = config.challenge.subjectLockout;
  }

  async isLocked(subject: string, nowMs: number): Promise<boolean> {
    return isLocked(await this.guards.findOneBy({ subject }), nowMs, this.policy);
  }

  /** How long the subject must wait before its next attempt, or null if it may try now. */
  async waitSeconds(subject: string, nowMs: number): Promise<number | null> {
    const decision = admit(await this.guards.findOneBy({ subject }), nowMs, this.policy);
    return decision.admitted ? null : decision.retryAfterSeconds;
  }

  /** Admits one attempt (counting it as a failure), or says why not and for how long. */
  async admit(subject: string, nowMs: number): Promise<Admission> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const row = await this.guards.findOneBy({ subject });
      const decision = admit(row, nowMs, this.policy);
      if (!decision.admitted) return decision;
      if (!row) {
        try {
          await this.guards.insert({ subject, version: 1, ...decision.next });
          return decision;
        } catch {
          continue; // another attempt created the row first: decide again on its state
        }
      }
      const result = await this.guards
        .createQueryBuilder()
        .update(SubjectGuardEntity)
        .set({ ...decision.next, version: row.version + 1 })
        .where('subject = :subject AND version = :version', { subject, version: row.version })
        .execute();
      if (result.affected === 1) return decision;
    }
    return { admitted: false, reason: 'wait', retryAfterSeconds: 1 };
  }

  /** An admitted attempt that never reached a verifier (its challenge ran out meanwhile) is not a failure. */
  async refund(subject: string): Promise<void> {
    await this.guards
      .createQueryBuilder()
      .update(SubjectGuardEntity)
      .set({ failures: () => 'failures - 1', version: () => 'version + 1' })
      .where('subject = :subject AND failures > 0', { subject })
      .execute();
  }

  /** A pass ends the streak. */
  async reset(subject: string): Promise<void> {
    await this.guards
      .createQueryBuilder()
      .update(SubjectGuardEntity)
      .set({ failures: 0, blockedUntil: 0, version: () => 'version + 1' })
      .where('subject = :subject', { subject })
      .execute();
  }
}
