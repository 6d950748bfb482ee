// The risk service's one DataSource definition, shared by the app (TypeOrmModule) and the migration CLI.
import type { RuntimeEnv } from '@stepgate/config';
import { dataSourceOptions } from '@stepgate/database';
import type { DataSourceOptions } from 'typeorm';
import { AssessmentEntity } from '../profiles/assessment.entity';
import { ChallengeAttemptEntity } from '../profiles/challenge-attempt.entity';
import { DeviceEntity } from '../profiles/device.entity';
import { FeatureStatEntity, FeatureTotalEntity } from '../profiles/feature-stat.entity';
import { RiskInitial1764300000000 } from './migrations/1764300000000-risk-initial';
import { RiskSignals1764900000000 } from './migrations/1764900000000-risk-signals';
import { PolicyVersions1765600000000 } from './migrations/1765600000000-policy-versions';
import { PolicyVersionEntity } from '../policy/policy-version.entity';
import { ProcessedMessageEntity } from '../profiles/processed-message.entity';
import { RecentAccessEntity } from '../profiles/recent-access.entity';
import { SightingEntity } from '../profiles/sighting.entity';
import { SubjectStateEntity } from '../profiles/subject-state.entity';

/** Nest's name for risk's DataSource, so it never collides with another service's in the embedded mode. */
export const RISK_DB = 'risk';

export const RISK_ENTITIES = [
  DeviceEntity,
  SightingEntity,
  ChallengeAttemptEntity,
  AssessmentEntity,
  ProcessedMessageEntity,
  SubjectStateEntity,
  FeatureStatEntity,
  FeatureTotalEntity,
  RecentAccessEntity,
  PolicyVersionEntity,
];

export function riskDataSourceOptions(
  runtime: Pick<RuntimeEnv, 'databaseUrl' | 'dataDir'>,
): DataSourceOptions {
  return dataSourceOptions({
    service: 'risk',
    databaseUrl: runtime.databaseUrl,
    dataDir: runtime.dataDir,
    entities: RISK_ENTITIES,
    migrations: [RiskInitial1764300000000, RiskSignals1764900000000, PolicyVersions1765600000000],
  });
}
