// TOTP factors: enrolment, activation, and verification with single use of every code.
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, type Repository } from 'typeorm';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../../config';
import { CHALLENGE_DB } from '../../database/challenge-database';
import { newId } from '../../ids';
import { SecretBox } from '../crypto/secret-box';
import {
  FactorAlreadyActive,
  FactorDeviceMismatch,
  FactorExpired,
  FactorNotFound,
  InvalidActivationCode,
  TooManyFactors,
} from '../factor.errors';
import type { FactorVerifier } from '../factor.verifier';
import {
  base32Secret,
  isFreshStep,
  matchStep,
  newTotpSecret,
  provisioningUri,
  type TotpSettings,
} from './totp';
import { TotpFactorEntity } from './totp-factor.entity';

/** Bounds the work of one verification, which tries each active factor of the subject. */
export const MAX_TOTP_FACTORS = 5;

export interface TotpEnrolment {
  factor: TotpFactorEntity;
  secret: string;
  otpauthUri: string;
}

@Injectable()
export class TotpService implements FactorVerifier {
  readonly method = 'totp' as const;
  private readonly totp: TotpSettings;
  private readonly pendingTtlMs: number;

  constructor(
    @InjectRepository(TotpFactorEntity, CHALLENGE_DB) private readonly factors: Repository<TotpFactorEntity>,
    private readonly box: SecretBox,
    @Inject(CHALLENGE_CONFIG) config: ChallengeConfig,
  ) {
    this.totp = config.challenge.totp;
    this.pendingTtlMs = config.challenge.enrolment.pendingTtlSeconds * 1000;
  }

  async hasActive(subject: string): Promise<boolean> {
    return (await this.factors.countBy({ subject, status: 'active' })) > 0;
  }

  listActive(subject: string): Promise<TotpFactorEntity[]> {
    return this.factors.find({
      where: { subject, status: 'active' },
      order: { activatedAt: 'ASC' },
      take: MAX_TOTP_FACTORS,
    });
  }

  /** Removes a factor of the subject (pending or active); another subject's is reported as missing. */
  async remove(subject: string, id: string): Promise<TotpFactorEntity> {
    const factor = await this.factors.findOneBy({ id, subject });
    if (!factor) throw new FactorNotFound();
    await this.factors.delete({ id, subject });
    return factor;
  }

  async enrol(
    subject: string,
    deviceId: string,
    authorisation: string,
    nowMs: number,
  ): Promise<TotpEnrolment> {
    // Abandoned enrolments stop counting once they can no longer be activated.
    await this.factors.delete({ subject, status: 'pending', createdAt: LessThan(nowMs - this.pendingTtlMs) });
    if ((await this.factors.countBy({ subject, status: In(['pending', 'active']) })) >= MAX_TOTP_FACTORS) {
      throw new TooManyFactors(MAX_TOTP_FACTORS);
    }
    const id = newId();
    const secret = newTotpSecret();
    const sealed = this.box.seal(secret, contextOf(id));
    const factor = this.factors.create({
      id,
      subject,
      status: 'pending',
      secretCiphertext: sealed.ciphertext,
      secretKeyId: sealed.keyId,
      lastUsedStep: null,
      enrolledDeviceId: deviceId,
      enrolmentAuthorisation: authorisation,
      createdAt: nowMs,
      activatedAt: null,
    });
    await this.factors.insert(factor);
    return { factor, secret: base32Secret(secret), otpauthUri: provisioningUri(secret, subject, this.totp) };
  }

  /** The pending factor the caller may activate, or the reason it may not. */
  async pendingFactor(
    subject: string,
    factorId: string,
    deviceId: string,
    nowMs: number,
  ): Promise<TotpFactorEntity> {
    // Another subject's factor is reported as missing: ids of other accounts' factors are none of the caller's business.
    const factor = await this.factors.findOneBy({ id: factorId, subject });
    if (!factor) throw new FactorNotFound();
    if (factor.status === 'active') throw new FactorAlreadyActive();
    if (factor.enrolledDeviceId !== deviceId) throw new FactorDeviceMismatch();
    if (factor.createdAt + this.pendingTtlMs <= nowMs) throw new FactorExpired();
    return factor;
  }

  /** Activates a pending factor with a code from it; the code's step counts as used. */
  async activate(factor: TotpFactorEntity, code: string, nowMs: number): Promise<TotpFactorEntity> {
    const step = matchStep(this.secretOf(factor), code, nowMs, this.totp);
    if (step === null) throw new InvalidActivationCode();
    const result = await this.factors
      .createQueryBuilder()
      .update(TotpFactorEntity)
      .set({ status: 'active', activatedAt: nowMs, lastUsedStep: step })
      .where("id = :id AND status = 'pending' AND (last_used_step IS NULL OR last_used_step < :step)", {
        id: factor.id,
        step,
      })
      .execute();
    if (result.affected !== 1) {
      // Lost a race: a concurrent activation won, or this code was just used.
      const now = await this.factors.findOneBy({ id: factor.id });
      if (now?.status === 'active') throw new FactorAlreadyActive();
      throw new InvalidActivationCode();
    }
    return { ...factor, status: 'active', activatedAt: nowMs, lastUsedStep: step };
  }

  async verify(subject: string, code: string, nowMs: number): Promise<boolean> {
    const active = await this.factors.find({ where: { subject, status: 'active' }, take: MAX_TOTP_FACTORS });
    for (const factor of active) {
      const step = matchStep(this.secretOf(factor), code, nowMs, this.totp);
      if (step === null || !isFreshStep(factor.lastUsedStep, step)) continue;
      if (await this.claimStep(factor.id, step)) return true;
    }
    return false;
  }

  /**
   * Compare-and-set on the last used step: of any number of concurrent requests with one code, on any number
   * of instances, exactly one changes the row, and only that one may succeed.
   */
  private async claimStep(factorId: string, step: number): Promise<boolean> {
    const result = await this.factors
      .createQueryBuilder()
      .update(TotpFactorEntity)
      .set({ lastUsedStep: step })
      .where("id = :id AND status = 'active' AND (last_used_step IS NULL OR last_used_step < :step)", {
        id: factorId,
        step,
      })
      .execute();
    return result.affected === 1;
  }

  private secretOf(factor: TotpFactorEntity): Buffer {
    return this.box.open(
      { keyId: factor.secretKeyId, ciphertext: factor.secretCiphertext },
      contextOf(factor.id),
    );
  }
}

const contextOf = (factorId: string): string => `totp:${factorId}`;
