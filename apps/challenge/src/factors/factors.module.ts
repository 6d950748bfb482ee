import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CHALLENGE_DB } from '../database/challenge-database';
import { BearerGuard } from '../http/bearer.guard';
import { CsrfGuard } from '../http/csrf.guard';
import { TokensModule } from '../tokens/tokens.module';
import { EnrolmentService } from './enrolment.service';
import { FactorAuditEntity } from './factor-audit.entity';
import { FactorAuditService } from './factor-audit.service';
import { FactorVerifiers } from './factor-verifiers';
import { FactorsHttpController } from './factors.http.controller';
import { RecoveryCodeEntity } from './recovery/recovery-code.entity';
import { RecoveryCodesService } from './recovery/recovery-codes.service';
import { TotpFactorEntity } from './totp/totp-factor.entity';
import { TotpService } from './totp/totp.service';
import { WebauthnCeremonyEntity } from './webauthn/webauthn-ceremony.entity';
import { WebauthnCredentialEntity } from './webauthn/webauthn-credential.entity';
import { WebauthnService } from './webauthn/webauthn.service';

@Module({
  imports: [
    TypeOrmModule.forFeature(
      [
        TotpFactorEntity,
        FactorAuditEntity,
        WebauthnCredentialEntity,
        WebauthnCeremonyEntity,
        RecoveryCodeEntity,
      ],
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
    FactorAuditService,
    EnrolmentService,
    BearerGuard,
    CsrfGuard,
  ],
  exports: [FactorVerifiers, FactorAuditService, EnrolmentService],
})
export class FactorsModule {}
