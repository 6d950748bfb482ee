// The challenge service's DataSource: its entities, its migrations, and a name of its own so several services
// can share one Nest process (the embedded mode) without their TypeORM registrations colliding.
import type { RuntimeEnv } from '@stepgate/config';
import { dataSourceOptions } from '@stepgate/database';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ChallengeEntity } from '../challenges/challenge.entity';
import { SubjectGuardEntity } from '../challenges/subject-guard.entity';
import { FactorAuditEntity } from '../factors/factor-audit.entity';
import { RecoveryCodeEntity } from '../factors/recovery/recovery-code.entity';
import { TotpFactorEntity } from '../factors/totp/totp-factor.entity';
import { WebauthnCeremonyEntity } from '../factors/webauthn/webauthn-ceremony.entity';
import { WebauthnCredentialEntity } from '../factors/webauthn/webauthn-credential.entity';
import { SigningKeyEntity } from '../tokens/signing-key.entity';
import { CreateChallengeTables1764300000000 } from './migrations/1764300000000-create-challenge-tables';
import { PasskeysRecoveryCodesLimits1764400000000 } from './migrations/1764400000000-passkeys-recovery-codes-limits';

export const CHALLENGE_DB = 'challenge';

export const CHALLENGE_ENTITIES = [
  ChallengeEntity,
  SubjectGuardEntity,
  TotpFactorEntity,
  WebauthnCredentialEntity,
  WebauthnCeremonyEntity,
  RecoveryCodeEntity,
  FactorAuditEntity,
  SigningKeyEntity,
];
export const CHALLENGE_MIGRATIONS = [
  CreateChallengeTables1764300000000,
  PasskeysRecoveryCodesLimits1764400000000,
];

export function challengeTypeOrmOptions(runtime: RuntimeEnv): TypeOrmModuleOptions {
  return {
    ...dataSourceOptions({
      service: 'challenge',
      databaseUrl: runtime.databaseUrl,
      dataDir: runtime.dataDir,
      entities: CHALLENGE_ENTITIES,
      migrations: CHALLENGE_MIGRATIONS,
    }),
    retryAttempts: 5,
    retryDelay: 1000,
  };
}

/**
 * Runs `UPDATE ... RETURNING` with named parameters on either database and gives back the updated rows:
 * one statement decides and reports, so concurrent callers each see their own exact result.
 */
export async function updateReturning<T>(
  dataSource: DataSource,
  sql: string,
  parameters: Record<string, unknown>,
): Promise<T[]> {
  const [query, values] = dataSource.driver.escapeQueryWithParameters(sql, parameters);
  const runner = dataSource.createQueryRunner();
  try {
    const result = await runner.query(query, values, true);
    return (result.records ?? []) as T[];
  } finally {
    await runner.release();
  }
}
