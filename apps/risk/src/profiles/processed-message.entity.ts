import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The inbox: every consumed message that changed (or deliberately did not change) the profile, written in the
 * same transaction as its effects, so a redelivered message changes nothing.
 */
@Entity('risk_processed_messages')
export class ProcessedMessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 249 })
  topic!: string;

  /** The event id, or the natural key of a message that has none (challenge outcomes). */
  @PrimaryColumn({ name: 'message_id', type: 'varchar', length: 256 })
  messageId!: string;

  @Column({ name: 'processed_at', type: 'bigint', transformer: epochMs })
  processedAt!: number;

  /** The assessment the message produced, re-published when the message is seen again. */
  @Column({ name: 'assessment_id', type: 'varchar', length: 64, nullable: true })
  assessmentId!: string | null;
}
