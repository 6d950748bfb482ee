// Adding and removing factors: decides who may (a first factor by the first-factor policy, asking risk when the
// policy says so and failing closed; anything else, and every removal, only with a fresh step-up from this
// device), and leaves an audit row and a factor.changed event for every change.
import { Inject, Injectable } from '@nestjs/common';
import type { ChallengeMethod } from '@stepgate/contracts';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import type { Caller } from '../http/caller';
import { RiskClient } from '../risk/risk.client';
import type { RegisterPasskeyBody } from './dto/webauthn.dto';
import {
  activationNeedsStepUp,
  decideEnrolment,
  firstFactorAuthorisation,
  isFreshStepUp,
  STEP_UP_AUTHORISATION,
  type StepUpRequirement,
} from './enrolment.policy';
import { FactorAuditService } from './factor-audit.service';
import type { FactorChange } from './factor-audit.entity';
import { EnrolmentNotAllowed, FactorRequired, StepUpRequired } from './factor.errors';
import { FactorVerifiers } from './factor-verifiers';
import type { RecoveryCodeBatch } from './recovery/recovery-codes.service';
import type { TotpEnrolment } from './totp/totp.service';
import type { TotpFactorEntity } from './totp/totp-factor.entity';
import type { WebauthnCredentialEntity } from './webauthn/webauthn-credential.entity';

export interface FactorSummary {
  totp: TotpFactorEntity[];
  passkeys: WebauthnCredentialEntity[];
  recoveryCodesLeft: number;
}

@Injectable()
export class EnrolmentService {
  private readonly requirement: StepUpRequirement;

  constructor(
    private readonly factors: FactorVerifiers,
    private readonly audit: FactorAuditService,
    private readonly risk: RiskClient,
    @Inject(CHALLENGE_CONFIG) private readonly config: ChallengeConfig,
  ) {
    const { stepUpAcr, stepUpMaxAgeSeconds } = config.challenge.enrolment;
    this.requirement = {
      acrLevels: config.acrLevels,
      acr: stepUpAcr,
      maxAgeSeconds: stepUpMaxAgeSeconds,
      clockSkewSeconds: config.clockSkewSeconds,
    };
  }

  get stepUpRequirement(): StepUpRequirement {
    return this.requirement;
  }

  async summary(subject: string): Promise<FactorSummary> {
    const [totp, passkeys, recoveryCodesLeft] = await Promise.all([
      this.factors.totp.listActive(subject),
      this.factors.webauthn.list(subject),
      this.factors.recovery.remaining(subject),
    ]);
    return { totp, passkeys, recoveryCodesLeft };
  }

  /** Whether the caller's token is a fresh step-up that allows factor changes. */
  hasFreshStepUp(caller: Caller, nowMs: number): boolean {
    return isFreshStepUp(caller.token, caller.deviceId, this.requirement, nowMs);
  }

  async enrolTotp(caller: Caller, nowMs: number): Promise<TotpEnrolment> {
    const authorisation = await this.authorise(caller, nowMs);
    const enrolment = await this.factors.totp.enrol(
      caller.token.subject,
      caller.deviceId,
      authorisation,
      nowMs,
    );
    await this.record('enrolled', 'totp', enrolment.factor.id, caller, authorisation, nowMs);
    return enrolment;
  }

  async activateTotp(
    caller: Caller,
    factorId: string,
    code: string,
    nowMs: number,
  ): Promise<TotpFactorEntity> {
    const subject = caller.token.subject;
    const pending = await this.factors.totp.pendingFactor(subject, factorId, caller.deviceId, nowMs);
    const authorisation = await this.recheck(caller, pending.enrolmentAuthorisation, nowMs);
    const active = await this.factors.totp.activate(pending, code, nowMs);
    await this.record('activated', 'totp', active.id, caller, authorisation, nowMs);
    return active;
  }

  async passkeyOptions(caller: Caller, nowMs: number): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const authorisation = await this.authorise(caller, nowMs);
    return this.factors.webauthn.registrationOptions(partyOf(caller), authorisation, nowMs);
  }

  async registerPasskey(
    caller: Caller,
    body: RegisterPasskeyBody,
    nowMs: number,
  ): Promise<WebauthnCredentialEntity> {
    const { credential, authorisation } = await this.factors.webauthn.register(
      partyOf(caller),
      body.response,
      body.label,
      nowMs,
      // Before the passkey is stored: a first-factor registration may have been overtaken by another factor.
      (enrolledAs) => this.recheck(caller, enrolledAs, nowMs),
    );
    // A passkey is active as soon as it is registered: the attestation itself proved possession.
    await this.record('enrolled', 'webauthn', credential.id, caller, authorisation, nowMs);
    await this.record('activated', 'webauthn', credential.id, caller, authorisation, nowMs);
    return credential;
  }

  /** A new batch of recovery codes, replacing any earlier one. Only as a backup of a real factor. */
  async generateRecoveryCodes(caller: Caller, nowMs: number): Promise<RecoveryCodeBatch> {
    const subject = caller.token.subject;
    const methods = await this.factors.activeMethods(subject);
    if (!methods.some((m) => m !== 'recovery_code')) throw new FactorRequired();
    this.requireStepUp(caller, nowMs);
    const batch = await this.factors.recovery.generate(subject, nowMs);
    await this.record('enrolled', 'recovery_code', batch.batchId, caller, STEP_UP_AUTHORISATION, nowMs);
    return batch;
  }

  async removeTotp(caller: Caller, id: string, nowMs: number): Promise<void> {
    this.requireStepUp(caller, nowMs);
    const removed = await this.factors.totp.remove(caller.token.subject, id);
    await this.record('removed', 'totp', removed.id, caller, STEP_UP_AUTHORISATION, nowMs);
  }

  async removePasskey(caller: Caller, id: string, nowMs: number): Promise<void> {
    this.requireStepUp(caller, nowMs);
    const removed = await this.factors.webauthn.remove(caller.token.subject, id);
    await this.record('removed', 'webauthn', removed.id, caller, STEP_UP_AUTHORISATION, nowMs);
  }

  async removeRecoveryCodes(caller: Caller, nowMs: number): Promise<number> {
    this.requireStepUp(caller, nowMs);
    const removed = await this.factors.recovery.removeAll(caller.token.subject);
    if (removed > 0) {
      await this.record('removed', 'recovery_code', 'all', caller, STEP_UP_AUTHORISATION, nowMs);
    }
    return removed;
  }

  /** Every removal, and any change to an account that has a factor, needs a fresh step-up on this device. */
  private requireStepUp(caller: Caller, nowMs: number): void {
    if (!this.hasFreshStepUp(caller, nowMs)) throw this.stepUpRequired();
  }

  /** Returns how an addition is authorised, or throws why it is not. */
  private async authorise(caller: Caller, nowMs: number): Promise<string> {
    const decision = decideEnrolment({
      hasActiveFactor: (await this.factors.activeMethods(caller.token.subject)).length > 0,
      policy: this.config.challenge.firstFactorEnrolment,
      token: caller.token,
      deviceId: caller.deviceId,
      requirement: this.requirement,
      firstFactorMaxAuthAgeSeconds: this.config.challenge.enrolment.firstFactorMaxAuthAgeSeconds,
      nowMs,
    });
    switch (decision.outcome) {
      case 'allow':
        return decision.authorisation;
      case 'step_up_required':
        throw this.stepUpRequired();
      case 'reauthentication_required':
        throw new EnrolmentNotAllowed(
          `a first factor needs a sign-in from the last ${this.config.challenge.enrolment.firstFactorMaxAuthAgeSeconds} s: sign in again, then enrol`,
        );
      case 'closed':
        throw new EnrolmentNotAllowed(
          'self-service enrolment of a first factor is disabled; ask an administrator',
        );
      case 'check_device': {
        const assessment = await this.risk.assess(caller, 'first-factor enrolment');
        if (assessment.deviceStatus === 'unknown') {
          throw new EnrolmentNotAllowed(
            'a first factor can only be enrolled from a device that has already signed in successfully',
          );
        }
        return firstFactorAuthorisation('seen-device');
      }
    }
  }

  /** Activation re-checks enrolment: a first-factor enrolment may have been overtaken by another factor. */
  private async recheck(caller: Caller, authorisation: string, nowMs: number): Promise<string> {
    const hasActive = (await this.factors.activeMethods(caller.token.subject)).length > 0;
    if (!activationNeedsStepUp(authorisation, hasActive)) return authorisation;
    this.requireStepUp(caller, nowMs);
    return STEP_UP_AUTHORISATION;
  }

  private stepUpRequired(): StepUpRequired {
    return new StepUpRequired(this.requirement.acr, this.requirement.maxAgeSeconds);
  }

  private record(
    change: FactorChange,
    method: ChallengeMethod,
    factorId: string,
    caller: Caller,
    authorisation: string,
    nowMs: number,
  ): Promise<void> {
    return this.audit.record(
      {
        change,
        method,
        factorId,
        subject: caller.token.subject,
        deviceId: caller.deviceId,
        correlationId: caller.correlationId,
        authorisation,
      },
      nowMs,
    );
  }
}

export const partyOf = (caller: Caller) => ({
  subject: caller.token.subject,
  deviceId: caller.deviceId,
  sessionId: caller.token.sessionId,
});
