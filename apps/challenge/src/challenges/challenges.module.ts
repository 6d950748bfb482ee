import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CHALLENGE_DB } from '../database/challenge-database';
import { FactorsModule } from '../factors/factors.module';
import { BearerGuard } from '../http/bearer.guard';
import { CsrfGuard } from '../http/csrf.guard';
import { TokensModule } from '../tokens/tokens.module';
import { ChallengeEntity } from './challenge.entity';
import { ChallengeStore } from './challenge.store';
import { ChallengesHttpController } from './challenges.http.controller';
import { ChallengesMessageController } from './challenges.message.controller';
import { ChallengesService } from './challenges.service';
import { SubjectGuardEntity } from './subject-guard.entity';
import { SubjectGuardStore } from './subject-guard.store';

@Module({
  imports: [
    TypeOrmModule.forFeature([ChallengeEntity, SubjectGuardEntity], CHALLENGE_DB),
    FactorsModule,
    TokensModule,
  ],
  controllers: [ChallengesHttpController, ChallengesMessageController],
  providers: [ChallengeStore, SubjectGuardStore, ChallengesService, BearerGuard, CsrfGuard],
  exports: [ChallengesService],
})
export class ChallengesModule {}
