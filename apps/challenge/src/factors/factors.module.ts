import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CHALLENGE_DB } from '../database/challenge-database';
import { BearerGuard } from '../http/bearer.guard';
import { TokensModule } from '../tokens/tokens.module';
import { EnrolmentService } from './enrolment.service';
import { FactorAuditEntry } from './factor-audit.entity';
import { FactorVerifiers } from './factor-verifiers';
import { FactorsHttpController } from './factors.http.controller';
import { TotpFactor } from './totp/totp-factor.entity';
import { TotpService } from './totp/totp.service';

@Module({
  imports: [TypeOrmModule.forFeature([TotpFactor, FactorAuditEntry], CHALLENGE_DB), TokensModule],
  controllers: [FactorsHttpController],
  providers: [TotpService, FactorVerifiers, EnrolmentService, BearerGuard],
  exports: [FactorVerifiers],
})
export class FactorsModule {}
