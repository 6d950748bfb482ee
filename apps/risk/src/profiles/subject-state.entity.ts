import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Per-subject totals: the history size the model weighs, and the last trusted place for impossible travel. */
@Entity('risk_subjects')
export class SubjectStateEntity {
  @PrimaryColumn({ type: 'varchar', length: 256 })
  subject!: string;

  /** Allowed accesses learned. */
  @Column({ name: 'access_count', type: 'integer' })
  accessCount!: number;

  // The latest (by event time) allowed access that had a location.
  @Column({ name: 'located_at', type: 'bigint', nullable: true, transformer: epochMs })
  locatedAt!: number | null;

  @Column({ type: 'double precision', nullable: true })
  lat!: number | null;

  @Column({ type: 'double precision', nullable: true })
  lon!: number | null;

  @Column({ name: 'accuracy_km', type: 'integer', nullable: true })
  accuracyKm!: number | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  place!: string | null;
}
