import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type TotpFactorStatus = 'pending' | 'active';

/** A TOTP authenticator of one subject. The seed is sealed (AES-256-GCM); `lastUsedStep` stops replays. */
@Entity({ name: 'challenge_totp_factors' })
@Index('challenge_totp_factors_subject', ['subject', 'status'])
export class TotpFactorEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: TotpFactorStatus;

  @Column({ name: 'secret_ciphertext', type: 'text' })
  secretCiphertext!: string;

  @Column({ name: 'secret_key_id', type: 'varchar', length: 64 })
  secretKeyId!: string;

  /** Highest time step accepted so far; a code is accepted only for a later step. */
  @Column({ name: 'last_used_step', type: 'integer', nullable: true })
  lastUsedStep!: number | null;

  /** A pending factor can only be activated from the device that enrolled it. */
  @Column({ name: 'enrolled_device_id', type: 'varchar', length: 128 })
  enrolledDeviceId!: string;

  /** How enrolment was allowed; a factor enrolled as a first factor needs a step-up to activate once another is active. */
  @Column({ name: 'enrolment_authorisation', type: 'varchar', length: 64 })
  enrolmentAuthorisation!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'activated_at', type: 'bigint', nullable: true, transformer: epochMs })
  activatedAt!: number | null;
}
