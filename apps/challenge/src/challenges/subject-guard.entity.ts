import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Consecutive failures of one subject across all its challenges, and until when it must wait. Changed only by
 * compare-and-set on `version`, so concurrent attempts on any number of instances are counted exactly.
 */
@Entity({ name: 'challenge_subject_guards' })
export class SubjectGuardEntity {
  @PrimaryColumn({ type: 'varchar', length: 256 })
  subject!: string;

  @Column({ type: 'integer', default: 0 })
  failures!: number;

  @Column({ type: 'integer', default: 0 })
  version!: number;

  @Column({ name: 'last_failure_at', type: 'bigint', transformer: epochMs })
  lastFailureAt!: number;

  /** No attempt is admitted before this time (epoch ms). */
  @Column({ name: 'blocked_until', type: 'bigint', transformer: epochMs })
  blockedUntil!: number;
}
