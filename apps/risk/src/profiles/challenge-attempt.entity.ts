import type { ChallengeMethod } from '@stepgate/contracts';
import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ChallengeResult } from '@stepgate/risk-scoring';

/** A verification attempt reported by challenge (expired ones are not kept): failure streaks and passes. */
@Entity('risk_challenge_attempts')
@Index('idx_risk_challenge_attempts_subject_time', ['subject', 'occurredAt'])
export class ChallengeAttemptEntity {
  // The key an outcome is deduplicated by: a challenge reports each result at most once per instant.
  @PrimaryColumn({ name: 'challenge_id', type: 'varchar', length: 128 })
  challengeId!: string;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  result!: ChallengeResult;

  @PrimaryColumn({ name: 'occurred_at', type: 'bigint', transformer: epochMs })
  occurredAt!: number;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  @Column({ name: 'device_id', type: 'varchar', length: 128, nullable: true })
  deviceId!: string | null;

  @Column({ type: 'varchar', length: 32 })
  method!: ChallengeMethod;
}
