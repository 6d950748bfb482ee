import { epochMs } from '@stepgate/database';
import type { PolicySource } from '@stepgate/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One version of the policy: the whole document, who made it and what changed. Append-only: the audit log. */
@Entity('risk_policy_versions')
export class PolicyVersionEntity {
  /** 1, 2, 3, ...: the next is always the head plus one, so two writers of the same next version conflict. */
  @PrimaryColumn({ type: 'integer' })
  version!: number;

  @Column({ type: 'varchar', length: 64 })
  hash!: string;

  /** The PolicyDocument, as JSON. */
  @Column({ type: 'text' })
  document!: string;

  /** PolicyChange[] against the previous version, as JSON. */
  @Column({ type: 'text' })
  changes!: string;

  @Column({ type: 'varchar', length: 256 })
  author!: string;

  @Column({ type: 'varchar', length: 16 })
  source!: PolicySource;

  @Column({ type: 'integer', nullable: true })
  restores!: number | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  comment!: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;
}
