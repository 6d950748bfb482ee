import { epochMs } from '@stepgate/database';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Something observed on a subject's allowed accesses (a network, a country). One table for every kind, so a
 * later signal (user-agent family, ASN) learns a new kind without a migration.
 */
export const SIGHTING_KINDS = ['network', 'country'] as const;
export type SightingKind = (typeof SIGHTING_KINDS)[number];

@Entity('risk_sightings')
export class Sighting {
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
