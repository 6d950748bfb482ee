// Opening challenges for the gateway, and verifying them: every check before an answer is looked at, one
// counted attempt per try (on the challenge and on the subject), single-use answers and challenges, and an
// outcome event for every attempt so risk learns.
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import {
  TOPICS,
  type ChallengeMethod,
  type ChallengeOutcome,
  type CreateChallengeReply,
  type CreateChallengeRequest,
} from '@stepgate/contracts';
import { dpopDeviceId, sessionBindingOf } from '@stepgate/identity';
import { acrRank } from '@stepgate/policy';
import { safeReturnTo } from '@stepgate/redirect';
import { MessageBus } from '@stepgate/kafka';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { FactorAuditService } from '../factors/factor-audit.service';
import { FactorVerifiers } from '../factors/factor-verifiers';
import type { UserVerification } from '../factors/webauthn/webauthn-ceremony.entity';
import { ChallengeMetrics } from '../health/challenge.metrics';
import type { Caller } from '../http/caller';
import { newId } from '../ids';
import { TokenIssuer, type IssuedToken } from '../tokens/token.issuer';
import { ChallengeEntity } from './challenge.entity';
import { challengeState, type ChallengeState } from './challenge-state';
import {
  ChallengeCompleted,
  ChallengeExpired,
  ChallengeForbidden,
  ChallengeLocked,
  ChallengeNotFound,
  InvalidCode,
  MethodNotOffered,
  TooManyAttempts,
} from './challenge.errors';
import { ChallengeStore } from './challenge.store';
import type { VerifyChallengeBody } from './dto/verify-challenge.dto';
import { attestedAcr, chooseMethods } from './method-choice';
import { SubjectGuardStore } from './subject-guard.store';

export interface PassedChallenge extends IssuedToken {
  /** The token's acr: what the passed method attests. */
  acr: string;
  /** `DPoP` when the token is bound to the key the request proved (RFC 9449 5), else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP';
  returnTo: string | null;
}

/** What a challenge page shows: the challenge as it stands for this caller. */
export interface ChallengeView {
  challenge: ChallengeEntity;
  state: ChallengeState;
  /** Seconds to wait before the subject may try again, when failures slowed it down. */
  retryAfterSeconds: number | null;
}

const ACCOUNT_LOCKED = 'too many wrong answers for this account recently; try again later';
const ENDED_BY_LOCKOUT =
  'this challenge ended when the account was locked after too many wrong answers; retry the request to get a new one';
const NO_ATTEMPTS_LEFT = 'no attempts left on this challenge';

@Injectable()
export class ChallengesService {
  private readonly logger = new Logger(ChallengesService.name);

  constructor(
    private readonly store: ChallengeStore,
    private readonly guard: SubjectGuardStore,
    private readonly factors: FactorVerifiers,
    private readonly audit: FactorAuditService,
    private readonly tokens: TokenIssuer,
    private readonly bus: MessageBus,
    private readonly metrics: ChallengeMetrics,
    @Inject(CHALLENGE_CONFIG) private readonly config: ChallengeConfig,
  ) {}

  async open(request: CreateChallengeRequest, nowMs: number): Promise<CreateChallengeReply> {
    const reply = await this.decideAndOpen(request, nowMs);
    this.metrics.challengesCreated.inc({ status: reply.status });
    return reply;
  }

  private async decideAndOpen(request: CreateChallengeRequest, nowMs: number): Promise<CreateChallengeReply> {
    const c = this.config.challenge;
    // The token is bound to a device: without one, passing would elevate whoever holds the access token anywhere.
    if (!request.deviceId) return { status: 'denied', reason: 'a step-up needs a device id' };
    const choice = chooseMethods({
      level: request.risk.level,
      requiredAcr: request.requiredAcr,
      acrLevels: this.config.acrLevels,
      policy: c.methods,
      methodAcr: c.methodAcr,
      enrolled: await this.factors.activeMethods(request.subject),
    });
    if (choice.status === 'denied' && request.risk.level === 'critical') {
      // Deny and alert: critical risk is not something a second factor should wave through.
      this.metrics.alerts.inc({ reason: 'critical_risk' });
      this.logger.warn(
        `ALERT critical risk for ${request.subject} on ${request.route} (score ${request.risk.score}: ` +
          `${request.risk.signals.map((s) => s.name).join(', ') || 'no signals'}); step-up denied`,
      );
    }
    if (choice.status !== 'open') return choice;
    if (await this.guard.isLocked(request.subject, nowMs))
      return { status: 'denied', reason: ACCOUNT_LOCKED };
    const challenge: ChallengeEntity = {
      id: newId(),
      subject: request.subject,
      sessionId: request.sessionId,
      deviceId: request.deviceId,
      route: request.route,
      requiredAcr: request.requiredAcr,
      maxAgeSeconds: request.maxAgeSeconds,
      risk: request.risk,
      methods: choice.methods,
      attemptsLeft: c.maxAttempts,
      failures: 0,
      status: 'open',
      correlationId: request.correlationId,
      createdAt: nowMs,
      expiresAt: nowMs + c.ttlSeconds * 1000,
      completedAt: null,
    };
    await this.store.create(challenge);
    return {
      status: 'open',
      challengeId: challenge.id,
      methods: challenge.methods,
      expiresAt: new Date(challenge.expiresAt).toISOString(),
    };
  }

  /** The challenge for its own page: only its subject, device and session may see it. */
  async view(id: string, caller: Caller, nowMs: number): Promise<ChallengeView> {
    const challenge = await this.store.find(id);
    if (!challenge) throw new ChallengeNotFound();
    assertSameParty(challenge, caller);
    const state = challengeState(challenge, nowMs);
    return { challenge, state, retryAfterSeconds: await this.guard.waitSeconds(challenge.subject, nowMs) };
  }

  /** Starts a passkey ceremony for this challenge; the options go to navigator.credentials.get(). */
  async webauthnOptions(
    id: string,
    caller: Caller,
    nowMs: number,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { challenge, state } = await this.view(id, caller, nowMs);
    if (!challenge.methods.includes('webauthn')) throw new MethodNotOffered('webauthn');
    if (state === 'passed') throw new ChallengeCompleted();
    if (state === 'expired') throw new ChallengeExpired();
    if (state === 'locked')
      throw new ChallengeLocked(challenge.status === 'locked_out' ? ENDED_BY_LOCKOUT : NO_ATTEMPTS_LEFT);
    return this.factors.webauthn.authenticationOptions(
      { subject: challenge.subject, deviceId: challenge.deviceId, sessionId: sessionBindingOf(caller.token) },
      challenge.id,
      this.userVerificationFor(challenge),
      nowMs,
    );
  }

  async verify(
    id: string,
    caller: Caller,
    body: VerifyChallengeBody,
    nowMs: number,
  ): Promise<PassedChallenge> {
    const challenge = await this.store.find(id);
    if (!challenge) throw new ChallengeNotFound();
    assertSameParty(challenge, caller);
    if (!challenge.methods.includes(body.method)) throw new MethodNotOffered(body.method);
    // Checked before any attempt is counted: the config may have changed since the challenge was opened.
    if (this.attests(challenge, body.method, true) === null) throw new MethodNotOffered(body.method);
    const attempt = { challenge, caller, method: body.method, nowMs };

    await this.refuseUnlessOpen(challenge, attempt, nowMs);
    // Counted on the subject first (as a failure until it passes), so parallel guesses across challenges
    // cannot outrun the per-account limit, then on the challenge.
    const admission = await this.guard.admit(challenge.subject, nowMs);
    if (!admission.admitted) {
      // Normally done by the failure that locked the subject; again here in case that request died before.
      if (admission.reason === 'locked') await this.store.lockOut(challenge.subject);
      await this.publish(attempt, 'locked', challenge.attemptsLeft);
      if (admission.reason === 'locked')
        throw new ChallengeLocked(ACCOUNT_LOCKED, admission.retryAfterSeconds);
      throw new TooManyAttempts(admission.retryAfterSeconds);
    }
    const attemptsLeft = await this.store.takeAttempt(challenge.id, nowMs);
    if (attemptsLeft === null) {
      // Lost a race with another attempt: this one was never checked, so it is not the subject's failure.
      await this.guard.refund(challenge.subject);
      await this.refuseUnlessOpen((await this.store.find(id)) ?? challenge, attempt, nowMs);
      await this.publish(attempt, 'locked', 0);
      throw new ChallengeLocked(NO_ATTEMPTS_LEFT);
    }

    const checked = await this.check(challenge, caller, body, nowMs);
    const acr = checked ? this.attests(challenge, body.method, checked.userVerified) : null;
    if (!checked || acr === null) {
      // The failure that locks the subject ends every challenge of it that could still pass, before it answers.
      if (await this.guard.isLocked(challenge.subject, nowMs)) await this.store.lockOut(challenge.subject);
      await this.store.recordFailure(challenge.id);
      await this.publish(attempt, 'failed', attemptsLeft);
      throw new InvalidCode(attemptsLeft, body.method);
    }
    // Passed before the streak ends: when a lockout ended the challenge meanwhile, the answer neither passes
    // it nor clears the lockout.
    if (!(await this.store.markPassed(challenge.id, nowMs))) {
      await this.refuseUnlessOpen((await this.store.find(id)) ?? challenge, attempt, nowMs);
      throw new ChallengeCompleted();
    }
    await this.guard.reset(challenge.subject);
    // Bound to the DPoP key only when the challenge's device is that key: the token is then as hard to use
    // elsewhere as the key is to copy.
    const jkt =
      caller.dpopJkt !== null && challenge.deviceId === dpopDeviceId(caller.dpopJkt) ? caller.dpopJkt : null;
    const issued = await this.tokens.issue(
      {
        subject: challenge.subject,
        acr,
        amr: checked.amr,
        deviceId: challenge.deviceId,
        // The caller's own session (its sid), never the binding: a token without sid gets none.
        sessionId: caller.token.sessionId,
        maxAgeSeconds: challenge.maxAgeSeconds,
        riskLevel: challenge.risk.level,
        jkt,
        carried: carriedClaims(caller.token.claims, this.config.challenge.tokens.carryClaims),
      },
      nowMs,
    );
    await this.publish(attempt, 'passed', attemptsLeft);
    if (checked.recoveryCodeId)
      await this.recoveryCodeSpent(challenge, caller, checked.recoveryCodeId, nowMs);
    return {
      ...issued,
      acr,
      tokenType: jkt === null ? 'Bearer' : 'DPoP',
      returnTo: safeReturnTo(body.return_to),
    };
  }

  /** The acr a passed answer with this method attests for the challenge; null when it cannot attest enough. */
  private attests(challenge: ChallengeEntity, method: ChallengeMethod, userVerified: boolean): string | null {
    return attestedAcr({
      method,
      userVerified,
      requiredAcr: challenge.requiredAcr,
      acrLevels: this.config.acrLevels,
      methodAcr: this.config.challenge.methodAcr,
      userVerificationAcr: this.config.challenge.webauthn.userVerificationAcr,
    });
  }

  /** Checks and consumes the answer with its method; what it showed (`amr`, user verification), or null when wrong. */
  private async check(
    challenge: ChallengeEntity,
    caller: Caller,
    body: VerifyChallengeBody,
    nowMs: number,
  ): Promise<{ amr: string[]; userVerified: boolean; recoveryCodeId?: string } | null> {
    switch (body.method) {
      case 'totp':
        return (await this.factors.totp.verify(challenge.subject, body.code, nowMs))
          ? { amr: ['otp'], userVerified: false }
          : null;
      case 'recovery_code': {
        const spent = await this.factors.recovery.consume(challenge.subject, body.code, nowMs);
        return spent ? { amr: ['otp'], userVerified: false, recoveryCodeId: spent } : null;
      }
      case 'webauthn': {
        const assertion = await this.factors.webauthn.verify(
          {
            subject: challenge.subject,
            deviceId: challenge.deviceId,
            sessionId: sessionBindingOf(caller.token),
          },
          challenge.id,
          body.response,
          nowMs,
        );
        if (!assertion) return null;
        // RFC 8176: hwk (proof of a hardware key); user (user presence/verification gesture).
        return {
          amr: assertion.userVerified ? ['hwk', 'user'] : ['hwk'],
          userVerified: assertion.userVerified,
        };
      }
    }
  }

  /**
   * Spending a recovery code is itself a high-risk event: it usually means a lost authenticator, or someone
   * holding a stolen sheet of codes. Risk hears of it twice: the outcome (method recovery_code) and a
   * factor.changed `removed`; operators see an alert; the page tells the person how many codes are left.
   */
  private async recoveryCodeSpent(challenge: ChallengeEntity, caller: Caller, codeId: string, nowMs: number) {
    this.metrics.alerts.inc({ reason: 'recovery_code_used' });
    this.logger.warn(`ALERT recovery code used by ${challenge.subject} on device ${challenge.deviceId}`);
    await this.audit.record(
      {
        change: 'removed',
        method: 'recovery_code',
        factorId: codeId,
        subject: challenge.subject,
        deviceId: caller.deviceId,
        correlationId: caller.correlationId,
        authorisation: 'used_in_challenge',
      },
      nowMs,
    );
  }

  /** User verification is required when the route asks for the level it guards (phishing-resistant). */
  private userVerificationFor(challenge: ChallengeEntity): UserVerification {
    const levels = this.config.acrLevels;
    const uvAt = acrRank(levels, this.config.challenge.webauthn.userVerificationAcr);
    return acrRank(levels, challenge.requiredAcr) >= uvAt ? 'required' : 'preferred';
  }

  /** Throws (after publishing the outcome) unless the challenge can still take attempts. */
  private async refuseUnlessOpen(challenge: ChallengeEntity, attempt: Attempt, nowMs: number): Promise<void> {
    if (challenge.status === 'passed') throw new ChallengeCompleted();
    if (challenge.expiresAt <= nowMs) {
      await this.publish(attempt, 'expired', challenge.attemptsLeft);
      throw new ChallengeExpired();
    }
    if (challenge.status === 'locked_out') {
      await this.publish(attempt, 'locked', 0);
      const wait = await this.guard.waitSeconds(challenge.subject, nowMs);
      throw new ChallengeLocked(ENDED_BY_LOCKOUT, wait ?? undefined);
    }
    if (challenge.status === 'locked' || challenge.attemptsLeft <= 0) {
      await this.publish(attempt, 'locked', 0);
      throw new ChallengeLocked(NO_ATTEMPTS_LEFT);
    }
  }

  private async publish(
    attempt: Attempt,
    result: ChallengeOutcome['result'],
    attemptsLeft: number,
  ): Promise<void> {
    const { challenge, caller, method, nowMs } = attempt;
    this.metrics.verifications.inc({ method, result });
    try {
      await this.bus.publish(
        TOPICS.challengeOutcome,
        {
          challengeId: challenge.id,
          time: new Date(nowMs).toISOString(),
          correlationId: caller.correlationId,
          subject: challenge.subject,
          deviceId: caller.deviceId,
          method,
          result,
          attemptsLeft,
        },
        { correlationId: caller.correlationId, causationId: challenge.correlationId },
      );
    } catch (err) {
      // The attempt is already decided and counted; a lost event only delays what risk learns.
      this.logger.error(
        `challenge ${challenge.id} ${result}, but its outcome was not published: ${String(err)}`,
      );
    }
  }
}

interface Attempt {
  challenge: ChallengeEntity;
  caller: Caller;
  method: ChallengeMethod;
  nowMs: number;
}

/**
 * Only the subject, on the device and in the session the challenge was opened for, may see or complete it. The
 * session is the binding of the token that met the step-up (its sid, else its jti, else a hash of it), which
 * the gateway computed with the same function.
 */
function assertSameParty(challenge: ChallengeEntity, caller: Caller): void {
  if (caller.token.subject !== challenge.subject) {
    throw new ChallengeForbidden('subject_mismatch', 'this challenge belongs to another account');
  }
  if (caller.deviceId !== challenge.deviceId) {
    throw new ChallengeForbidden(
      'device_mismatch',
      'a challenge can only be completed on the device it was opened for',
    );
  }
  // A bound challenge needs that binding: a token of another session, or another token without one, does not
  // complete it. Only a gateway that sent no binding opens an unbound challenge.
  if (challenge.sessionId !== null && sessionBindingOf(caller.token) !== challenge.sessionId) {
    throw new ChallengeForbidden('session_mismatch', 'this challenge belongs to another session');
  }
}

/** The configured claims of the caller's token that it has, to copy into the stepped-up token. */
export function carriedClaims(
  claims: Record<string, unknown>,
  names: readonly string[],
): Record<string, unknown> {
  return Object.fromEntries(names.filter((n) => claims[n] !== undefined).map((n) => [n, claims[n]]));
}
