import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A device of a subject: seen on allowed accesses, confirmed by passed challenges. */
@Entity('risk_devices')
export class DeviceEntity {
  @PrimaryColumn({ type: 'varchar', length: 256 })
  subject!: string;

  @PrimaryColumn({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  /** Allowed accesses from this device; 0 when only a challenge has confirmed it. */
  @Column({ name: 'seen_count', type: 'integer' })
  seenCount!: number;

  @Column({ name: 'first_seen_at', type: 'bigint', nullable: true, transformer: epochMs })
  firstSeenAt!: number | null;

  @Column({ name: 'last_seen_at', type: 'bigint', nullable: true, transformer: epochMs })
  lastSeenAt!: number | null;

  /** Time of the latest passed challenge on this device. */
  @Column({ name: 'confirmed_at', type: 'bigint', nullable: true, transformer: epochMs })
  confirmedAt!: number | null;

  // The context of the latest allowed access, to score the device again when a challenge outcome arrives.
  @Column({ name: 'last_client_ip', type: 'varchar', length: 64, nullable: true })
  lastClientIp!: string | null;

  @Column({ name: 'last_user_agent', type: 'varchar', length: 1024, nullable: true })
  lastUserAgent!: string | null;

  @Column({ name: 'last_route', type: 'varchar', length: 128, nullable: true })
  lastRoute!: string | null;

  /** Browser and OS family of the latest allowed access: a device id that turns up with others was copied. */
  @Column({ name: 'browser_family', type: 'varchar', length: 64, nullable: true })
  browserFamily!: string | null;

  @Column({ name: 'os_family', type: 'varchar', length: 64, nullable: true })
  osFamily!: string | null;
}
