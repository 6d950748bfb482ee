import type { AccessDecision, DeviceStatus, RiskLevel, RiskSignal } from '@stepgate/contracts';
import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type AssessmentSource = 'access' | 'challenge_outcome';

/** An assessment risk published, kept (a bounded number per subject) for the admin view and for re-publishing. */
@Entity('risk_assessments')
@Index('idx_risk_assessments_subject_seq', ['subject', 'seq'])
@Index('idx_risk_assessments_time', ['time'])
export class AssessmentEntity {
  /** Insertion order: retention keeps the newest N per subject by it. */
  @PrimaryGeneratedColumn({ type: 'integer' })
  seq!: number;

  @Index('uq_risk_assessments_assessment_id', { unique: true })
  @Column({ name: 'assessment_id', type: 'varchar', length: 64 })
  assessmentId!: string;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  @Column({ name: 'device_id', type: 'varchar', length: 128, nullable: true })
  deviceId!: string | null;

  @Column({ type: 'bigint', transformer: epochMs })
  time!: number;

  @Column({ type: 'varchar', length: 32 })
  source!: AssessmentSource;

  @Column({ name: 'correlation_id', type: 'varchar', length: 128 })
  correlationId!: string;

  @Column({ name: 'causation_id', type: 'varchar', length: 128, nullable: true })
  causationId!: string | null;

  @Column({ name: 'client_ip', type: 'varchar', length: 64, nullable: true })
  clientIp!: string | null;

  @Column({ type: 'integer' })
  score!: number;

  @Column({ type: 'varchar', length: 16 })
  level!: RiskLevel;

  @Column({ name: 'device_status', type: 'varchar', length: 16 })
  deviceStatus!: DeviceStatus;

  @Column({ name: 'model_version', type: 'varchar', length: 64 })
  modelVersion!: string;

  /** The route of the access (null for an assessment after a challenge outcome). */
  @Column({ type: 'varchar', length: 128, nullable: true })
  route!: string | null;

  /** What the gateway decided about the access (null after a challenge outcome). */
  @Column({ type: 'varchar', length: 16, nullable: true })
  decision!: AccessDecision | null;

  /**
   * JSON in a text column on every database: the published signals, plus what risk keeps for itself to
   * re-weigh them (see ScoredSignal).
   */
  @Column({ type: 'simple-json' })
  signals!: RiskSignal[];
}
