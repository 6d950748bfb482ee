import { Injectable } from '@nestjs/common';
import type { ChallengeMethod } from '@stepgate/contracts';
import type { FactorVerifier } from './factor.verifier';
import { TotpService } from './totp/totp.service';

/** Every factor method this build supports, looked up by method. A new method adds its verifier here. */
@Injectable()
export class FactorVerifiers {
  private readonly all: readonly FactorVerifier[];

  constructor(totp: TotpService) {
    this.all = [totp];
  }

  /** Methods the subject has an active factor of. */
  async activeMethods(subject: string): Promise<ChallengeMethod[]> {
    const active = await Promise.all(
      this.all.map(async (v) => ((await v.hasActive(subject)) ? [v.method] : [])),
    );
    return active.flat();
  }

  verifierFor(method: ChallengeMethod): FactorVerifier | undefined {
    return this.all.find((v) => v.method === method);
  }
}
