import type { ChallengeMethod, RiskLevel, RiskSignal } from '@stepgate/contracts';
import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** `locked`: its attempts ran out; `locked_out`: a lockout of its subject ended it, for good. */
export type ChallengeStatus = 'open' | 'passed' | 'locked' | 'locked_out';

export interface RiskSnapshot {
  score: number;
  level: RiskLevel;
  signals: RiskSignal[];
}

/** One step-up challenge the gateway opened: who, from where, for what, and how many tries are left. */
@Entity({ name: 'challenge_challenges' })
@Index('challenge_challenges_subject', ['subject', 'createdAt'])
export class ChallengeEntity {
  /** 192 random bits, base64url: unguessable, so holding the id is not what protects it. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  /**
   * The session binding (`sessionBindingOf` in @stepgate/identity) of the token that met the step-up: only a
   * token with the same binding may see or complete the challenge. Null only from a gateway that sent none.
   */
  @Column({ name: 'session_id', type: 'varchar', length: 128, nullable: true })
  sessionId!: string | null;

  /** Only this device can complete the challenge, and the token is bound to it. */
  @Column({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId!: string;

  @Column({ type: 'varchar', length: 128 })
  route!: string;

  @Column({ name: 'required_acr', type: 'varchar', length: 128 })
  requiredAcr!: string;

  @Column({ name: 'max_age_seconds', type: 'integer' })
  maxAgeSeconds!: number;

  @Column({ type: 'simple-json' })
  risk!: RiskSnapshot;

  @Column({ type: 'simple-json' })
  methods!: ChallengeMethod[];

  /** Decremented atomically before a code is checked; at zero the challenge is locked. */
  @Column({ name: 'attempts_left', type: 'integer' })
  attemptsLeft!: number;

  /** Wrong codes on this challenge, summed per subject for the cross-challenge lockout. */
  @Column({ type: 'integer', default: 0 })
  failures!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: ChallengeStatus;

  @Column({ name: 'correlation_id', type: 'varchar', length: 128 })
  correlationId!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt!: number;

  @Column({ name: 'completed_at', type: 'bigint', nullable: true, transformer: epochMs })
  completedAt!: number | null;
}
