import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type FactorChange = 'enrolled' | 'activated' | 'removed';

/** Append-only record of factor changes; the factor.changed event mirrors it for other services. */
@Entity({ name: 'challenge_factor_audit' })
@Index('challenge_factor_audit_subject', ['subject', 'time'])
export class FactorAuditEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'bigint', transformer: epochMs })
  time!: number;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  @Column({ name: 'factor_id', type: 'varchar', length: 64 })
  factorId!: string;

  @Column({ type: 'varchar', length: 32 })
  method!: string;

  @Column({ type: 'varchar', length: 16 })
  change!: FactorChange;

  @Column({ name: 'device_id', type: 'varchar', length: 128, nullable: true })
  deviceId!: string | null;

  /** How the change was authorised: first factor (and by which policy) or a stepped-up token. */
  @Column({ type: 'varchar', length: 64 })
  authorisation!: string;

  @Column({ name: 'correlation_id', type: 'varchar', length: 128 })
  correlationId!: string;
}
