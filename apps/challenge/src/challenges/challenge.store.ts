// Challenge rows and the atomic steps on them. Every decision that concurrent requests could race on is a
// single conditional UPDATE, so it holds across threads, instances and both databases.
import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import { CHALLENGE_DB, updateReturning } from '../database/challenge-database';
import { ChallengeEntity } from './challenge.entity';
import { ENDED_BY_LOCKOUT } from './challenge-state';

@Injectable()
export class ChallengeStore {
  constructor(
    @InjectRepository(ChallengeEntity, CHALLENGE_DB) private readonly challenges: Repository<ChallengeEntity>,
    @InjectDataSource(CHALLENGE_DB) private readonly db: DataSource,
  ) {}

  async create(challenge: ChallengeEntity): Promise<void> {
    await this.challenges.insert(challenge);
  }

  find(id: string): Promise<ChallengeEntity | null> {
    return this.challenges.findOneBy({ id });
  }

  /** Takes one attempt: the attempts left after it, or null when none can be taken (not open, expired, exhausted). */
  async takeAttempt(id: string, nowMs: number): Promise<number | null> {
    const rows = await updateReturning<{ attempts_left: number | string }>(
      this.db,
      `UPDATE challenge_challenges SET attempts_left = attempts_left - 1
       WHERE id = :id AND status = 'open' AND attempts_left > 0 AND expires_at > :now
       RETURNING attempts_left`,
      { id, now: nowMs },
    );
    return rows[0] ? Number(rows[0].attempts_left) : null;
  }

  /** Counts a wrong code; the challenge locks once its last attempt is spent. */
  async recordFailure(id: string): Promise<void> {
    await this.db
      .createQueryBuilder()
      .update(ChallengeEntity)
      .set({
        failures: () => 'failures + 1',
        status: () => "CASE WHEN attempts_left = 0 AND status = 'open' THEN 'locked' ELSE status END",
      })
      .where('id = :id', { id })
      .execute();
  }

  /**
   * Ends every challenge of the subject that could still pass (`locked_out`, for good): one UPDATE, so an
   * answer being checked meanwhile finds its challenge ended when it tries to mark it passed.
   */
  async lockOut(subject: string): Promise<void> {
    await this.db
      .createQueryBuilder()
      .update(ChallengeEntity)
      .set({ status: 'locked_out' })
      .where('subject = :subject AND status IN (:...ended)', { subject, ended: ENDED_BY_LOCKOUT })
      .execute();
  }

  /**
   * Marks the challenge passed; false if it already was, or a subject lockout ended it (`locked_out`). An
   * attempt admitted before the last one ran out may still pass a challenge that has since locked: it was
   * counted in time.
   */
  async markPassed(id: string, nowMs: number): Promise<boolean> {
    const result = await this.db
      .createQueryBuilder()
      .update(ChallengeEntity)
      .set({ status: 'passed', completedAt: nowMs })
      .where("id = :id AND status IN ('open', 'locked')", { id })
      .execute();
    return result.affected === 1;
  }
}
