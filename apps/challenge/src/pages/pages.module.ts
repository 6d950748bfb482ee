import { Module } from '@nestjs/common';
import { ChallengesModule } from '../challenges/challenges.module';
import { TokensModule } from '../tokens/tokens.module';
import { FactorsModule } from '../factors/factors.module';
import { BearerGuard } from '../http/bearer.guard';
import { CsrfGuard } from '../http/csrf.guard';
import { AssetsHttpController } from './assets.http.controller';
import { PageErrorsFilter } from './page-errors.filter';
import { PagesHttpController } from './pages.http.controller';

@Module({
  imports: [ChallengesModule, FactorsModule, TokensModule],
  controllers: [PagesHttpController, AssetsHttpController],
  providers: [BearerGuard, CsrfGuard, PageErrorsFilter],
})
export class PagesModule {}
