import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CHALLENGE_DB } from '../database/challenge-database';
import { FactorsModule } from '../factors/factors.module';
import { BearerGuard } from '../http/bearer.guard';
import { TokensModule } from '../tokens/tokens.module';
import { Challenge } from './challenge.entity';
import { ChallengeStore } from './challenge.store';
import { ChallengesHttpController } from './challenges.http.controller';
import { ChallengesMessageController } from './challenges.message.controller';
import { ChallengesService } from './challenges.service';

@Module({
  imports: [TypeOrmModule.forFeature([Challenge], CHALLENGE_DB), FactorsModule, TokensModule],
  controllers: [ChallengesHttpController, ChallengesMessageController],
  providers: [ChallengeStore, ChallengesService, BearerGuard],
})
export class ChallengesModule {}
