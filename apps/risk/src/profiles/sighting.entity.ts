import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Feature } from '@stepgate/risk-scoring';

/**
 * A feature value observed on a subject's allowed accesses (a network, a country, a browser family...). One
 * table for every kind, so a new feature is learned without a migration.
 */
export type SightingKind = Feature;

@Entity('risk_sightings')
export class SightingEntity {
  @PrimaryColumn({ type: 'varchar', length: 256 })
  subject!: string;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  kind!: SightingKind;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  value!: string;

  @Column({ name: 'first_seen_at', type: 'bigint', transformer: epochMs })
  firstSeenAt!: number;

  @Column({ name: 'last_seen_at', type: 'bigint', transformer: epochMs })
  lastSeenAt!: number;

  @Column({ name: 'seen_count', type: 'integer' })
  seenCount!: number;
}
