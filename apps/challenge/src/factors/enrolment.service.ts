// Enrolment and activation of factors: decides who may, asks risk when the policy says so (failing closed),
// and leaves an audit row and a factor.changed event for every change.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { REQUESTS, TOPICS, type ChallengeMethod } from '@stepgate/contracts';
import { MessageBus, RequestTimeoutError } from '@stepgate/kafka';
import type { Repository } from 'typeorm';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { CHALLENGE_DB } from '../database/challenge-database';
import { ChallengeMetrics } from '../health/challenge.metrics';
import type { Caller } from '../http/caller';
import { newId } from '../ids';
import { FactorAuditEntry, type FactorChange } from './factor-audit.entity';
import { EnrolmentNotAllowed, RiskUnavailable, StepUpRequired } from './factor.errors';
import {
  activationNeedsStepUp,
  decideEnrolment,
  firstFactorAuthorisation,
  isFreshStepUp,
  STEP_UP_AUTHORISATION,
  type StepUpRequirement,
} from './enrolment.policy';
import { FactorVerifiers } from './factor-verifiers';
import { TotpService, type TotpEnrolment } from './totp/totp.service';
import type { TotpFactor } from './totp/totp-factor.entity';

@Injectable()
export class EnrolmentService {
  private readonly logger = new Logger(EnrolmentService.name);
  private readonly requirement: StepUpRequirement;

  constructor(
    private readonly totp: TotpService,
    private readonly verifiers: FactorVerifiers,
    private readonly bus: MessageBus,
    private readonly metrics: ChallengeMetrics,
    @InjectRepository(FactorAuditEntry, CHALLENGE_DB) private readonly audit: Repository<FactorAuditEntry>,
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

  async enrolTotp(caller: Caller, nowMs: number): Promise<TotpEnrolment> {
    const authorisation = await this.authorise(caller, nowMs);
    const enrolment = await this.totp.enrol(caller.token.subject, caller.deviceId, authorisation, nowMs);
    await this.record('enrolled', enrolment.factor, caller, authorisation, nowMs);
    return enrolment;
  }

  async activateTotp(caller: Caller, factorId: string, code: string, nowMs: number): Promise<TotpFactor> {
    const pending = await this.totp.pendingFactor(caller.token.subject, factorId, caller.deviceId, nowMs);
    const hasActive = (await this.verifiers.activeMethods(caller.token.subject)).length > 0;
    let authorisation = pending.enrolmentAuthorisation;
    if (activationNeedsStepUp(pending.enrolmentAuthorisation, hasActive)) {
      if (!isFreshStepUp(caller.token, caller.deviceId, this.requirement, nowMs)) throw this.stepUpRequired();
      authorisation = STEP_UP_AUTHORISATION;
    }
    const active = await this.totp.activate(pending, code, nowMs);
    await this.record('activated', active, caller, authorisation, nowMs);
    return active;
  }

  /** Returns how the enrolment is authorised, or throws why it is not. */
  private async authorise(caller: Caller, nowMs: number): Promise<string> {
    const decision = decideEnrolment({
      hasActiveFactor: (await this.verifiers.activeMethods(caller.token.subject)).length > 0,
      policy: this.config.challenge.firstFactorEnrolment,
      token: caller.token,
      deviceId: caller.deviceId,
      requirement: this.requirement,
      nowMs,
    });
    switch (decision.outcome) {
      case 'allow':
        return decision.authorisation;
      case 'step_up_required':
        throw this.stepUpRequired();
      case 'closed':
        throw new EnrolmentNotAllowed(
          'self-service enrolment of a first factor is disabled; ask an administrator',
        );
      case 'check_device':
        await this.requireKnownDevice(caller);
        return firstFactorAuthorisation('seen-device');
    }
  }

  private async requireKnownDevice(caller: Caller): Promise<void> {
    let status: string;
    try {
      const assessment = await this.bus.request(
        REQUESTS.assessRisk,
        {
          correlationId: caller.correlationId,
          subject: caller.token.subject,
          deviceId: caller.deviceId,
          clientIp: caller.clientIp,
          userAgent: caller.userAgent,
          route: null,
        },
        this.config.challenge.enrolment.riskTimeoutMs,
      );
      status = assessment.deviceStatus;
    } catch (err) {
      const reason =
        err instanceof RequestTimeoutError
          ? 'the risk service did not answer in time'
          : 'the risk service failed';
      this.logger.warn(
        `first-factor enrolment refused for ${caller.token.subject}: ${reason} (${String(err)})`,
      );
      throw new RiskUnavailable(reason);
    }
    if (status === 'unknown') {
      throw new EnrolmentNotAllowed(
        'a first factor can only be enrolled from a device that has already signed in successfully',
      );
    }
  }

  private stepUpRequired(): StepUpRequired {
    return new StepUpRequired(this.requirement.acr, this.requirement.maxAgeSeconds);
  }

  private async record(
    change: FactorChange,
    factor: { id: string; subject: string },
    caller: Caller,
    authorisation: string,
    nowMs: number,
  ): Promise<void> {
    const method: ChallengeMethod = 'totp';
    const entry = this.audit.create({
      id: newId(),
      time: nowMs,
      subject: factor.subject,
      factorId: factor.id,
      method,
      change,
      deviceId: caller.deviceId,
      authorisation,
      correlationId: caller.correlationId,
    });
    // The audit row is the durable record; the event is how other services hear about it.
    await this.audit.insert(entry);
    this.metrics.factorChanges.inc({ method, change });
    try {
      await this.bus.publish(
        TOPICS.factorChanged,
        {
          eventId: entry.id,
          time: new Date(nowMs).toISOString(),
          correlationId: caller.correlationId,
          subject: factor.subject,
          deviceId: caller.deviceId,
          factorId: factor.id,
          method,
          change,
        },
        { correlationId: caller.correlationId },
      );
    } catch (err) {
      this.logger.error(
        `factor ${change} ${factor.id} is audited but its event was not published: ${String(err)}`,
      );
    }
  }
}
