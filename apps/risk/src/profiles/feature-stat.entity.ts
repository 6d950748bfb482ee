import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Feature } from '@stepgate/risk-scoring';

/** How many subjects have used a feature value: the global distribution the model compares against. */
@Entity('risk_feature_stats')
export class FeatureStatEntity {
  @PrimaryColumn({ type: 'varchar', length: 16 })
  feature!: Feature;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  value!: string;

  @Column({ type: 'integer' })
  subjects!: number;
}

/** Per feature: the sum of FeatureStatEntity.subjects and the number of distinct values (the distribution's normaliser). */
@Entity('risk_feature_totals')
export class FeatureTotalEntity {
  @PrimaryColumn({ type: 'varchar', length: 16 })
  feature!: Feature;

  @Column({ type: 'integer' })
  subjects!: number;

  @Column({ name: 'distinct_values', type: 'integer' })
  distinctValues!: number;
}
