import { Injectable } from '@nestjs/common';
import type { ChallengeMethod } from '@stepgate/contracts';
import type { FactorVerifier } from './factor.verifier';
import { RecoveryCodesService } from './recovery/recovery-codes.service';
import { TotpService } from './totp/totp.service';
import { WebauthnService } from './webauthn/webauthn.service';

/** Every factor method this build supports. A new method adds its service here. */
@Injectable()
export class FactorVerifiers {
  private readonly all: readonly FactorVerifier[];

  constructor(
    readonly totp: TotpService,
    readonly webauthn: WebauthnService,
    readonly recovery: RecoveryCodesService,
  ) {
    this.all = [webauthn, totp, recovery];
  }

  /** Methods the subject has an active factor of. */
  async activeMethods(subject: string): Promise<ChallengeMethod[]> {
    const active = await Promise.all(
      this.all.map(async (v) => ((await v.hasActive(subject)) ? [v.method] : [])),
    );
    return active.flat();
  }
}
