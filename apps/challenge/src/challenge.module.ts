// The challenge service's root module. Built from the configuration passed in, never from globals, so the embedded
// launcher can run it beside the gateway and risk in one process.
import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { RuntimeEnv } from '@stepgate/config';
import { MessagingModule, type MessagingOptions } from '@stepgate/kafka';
import { ChallengesModule } from './challenges/challenges.module';
import { CHALLENGE_CONFIG, type ChallengeConfig } from './config';
import { CHALLENGE_DB, challengeTypeOrmOptions } from './database/challenge-database';
import { createSecretBox } from './factors/crypto/factor-keys';
import { SecretBox } from './factors/crypto/secret-box';
import { FactorsModule } from './factors/factors.module';
import { ChallengeMetrics } from './health/challenge.metrics';
import { HealthModule } from './health/health.module';
import { CsrfTokens } from './http/csrf';
import { PagesModule } from './pages/pages.module';
import { RiskClient } from './risk/risk.client';
import { TokensModule } from './tokens/tokens.module';

export interface ChallengeModuleOptions {
  config: ChallengeConfig;
  runtime: RuntimeEnv;
  messaging: MessagingOptions;
}

@Module({})
export class ChallengeModule {
  static forRoot({ config, runtime, messaging }: ChallengeModuleOptions): DynamicModule {
    return {
      module: ChallengeModule,
      // What every feature module needs: the configuration, the secret box, the metrics, CSRF tokens, risk.
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          name: CHALLENGE_DB,
          useFactory: () => challengeTypeOrmOptions(runtime),
        }),
        MessagingModule.forRoot(messaging),
        TokensModule,
        FactorsModule,
        ChallengesModule,
        PagesModule,
        HealthModule,
      ],
      providers: [
        { provide: CHALLENGE_CONFIG, useValue: config },
        {
          provide: SecretBox,
          useFactory: () => createSecretBox(config.secrets, runtime.dataDir, new Logger('FactorKeys')),
        },
        ChallengeMetrics,
        CsrfTokens,
        RiskClient,
      ],
      exports: [CHALLENGE_CONFIG, SecretBox, ChallengeMetrics, CsrfTokens, RiskClient],
    };
  }
}
