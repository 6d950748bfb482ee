import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CHALLENGE_DB } from '../database/challenge-database';
import { BearerGuard } from '../http/bearer.guard';
import { CsrfGuard } from '../http/csrf.guard';
import { TokensModule } from '../tokens/tokens.module';
import { EnrolmentService } from './enrolment.service';
import { FactorAuditEntry } from './factor-audit.entity';
import { FactorAudit } from './factor-audit.service';
import { FactorVerifiers } from './factor-verifiers';
import { FactorsHttpController } from './factors.http.controller';
import { RecoveryCode } from './recovery/recovery-code.entity';
import { RecoveryCodesService } from './recovery/recovery-codes.service';
import { TotpFactor } from './totp/totp-factor.entity';
import { TotpService } from './totp/totp.service';
import { WebauthnCeremony } from './webauthn/webauthn-ceremony.entity';
import { WebauthnCredential } from './webauthn/webauthn-credential.entity';
import { WebauthnService } from './webauthn/webauthn.service';

@Module({
  imports: [
    TypeOrmModule.forFeature(
      [TotpFactor, FactorAuditEntry, WebauthnCredential, WebauthnCeremony, RecoveryCode],
      CHALLENGE_DB,
    ),
    TokensModule,
  ],
  controllers: [FactorsHttpController],
  providers: [
    TotpService,
    WebauthnService,
    RecoveryCodesService,
    FactorVerifiers,
    FactorAudit,
    EnrolmentService,
    BearerGuard,
    CsrfGuard,
  ],
  exports: [FactorVerifiers, FactorAudit, EnrolmentService],
})
export class FactorsModule {}
