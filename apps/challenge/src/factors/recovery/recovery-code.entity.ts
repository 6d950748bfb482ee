import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

/** One recovery code, as a keyed hash only; `usedAt` is set once, atomically, when it is spent. */
@Entity({ name: 'challenge_recovery_codes' })
@Index('challenge_recovery_codes_subject', ['subject', 'usedAt'])
@Unique('challenge_recovery_codes_hash', ['codeHash'])
export class RecoveryCodeEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 256 })
  subject!: string;

  /** Codes generated together; generating a new batch deletes the previous one. */
  @Column({ name: 'batch_id', type: 'varchar', length: 64 })
  batchId!: string;

  /** hex HMAC-SHA256 of subject and code under the key `keyId` names. */
  @Column({ name: 'code_hash', type: 'varchar', length: 64 })
  codeHash!: string;

  @Column({ name: 'key_id', type: 'varchar', length: 64 })
  keyId!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'used_at', type: 'bigint', nullable: true, transformer: epochMs })
  usedAt!: number | null;
}
