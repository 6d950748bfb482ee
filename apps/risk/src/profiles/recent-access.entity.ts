import { epochMs } from '@stepgate/database';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Every access of a subject (allowed or not) within the longest velocity window; older ones are pruned. */
@Entity('risk_recent_accesses')
@Index('idx_risk_recent_accesses_subject_time', ['subject', 'time'])
export class RecentAccessEntity {
  @PrimaryColumn({ type: 'varchar', length: 256 })
  subject!: string;

  @PrimaryColumn({ name: 'event_id', type: 'varchar', length: 128 })
  eventId!: string;

  @Column({ type: 'bigint', transformer: epochMs })
  time!: number;

  @Column({ name: 'client_ip', type: 'varchar', length: 64, nullable: true })
  clientIp!: string | null;

  @Column({ name: 'device_id', type: 'varchar', length: 128, nullable: true })
  deviceId!: string | null;
}
