// Opening challenges for the gateway, and verifying them: every check before a code is looked at, one counted
// attempt per try, single-use codes and challenges, and an outcome event for every attempt so risk learns.
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  TOPICS,
  type ChallengeMethod,
  type ChallengeOutcome,
  type CreateChallengeReply,
  type CreateChallengeRequest,
} from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { FactorVerifiers } from '../factors/factor-verifiers';
import { ChallengeMetrics } from '../health/challenge.metrics';
import type { Caller } from '../http/caller';
import { newId } from '../ids';
import { TokenIssuer, type IssuedToken } from '../tokens/token.issuer';
import { Challenge } from './challenge.entity';
import {
  ChallengeCompleted,
  ChallengeExpired,
  ChallengeForbidden,
  ChallengeLocked,
  ChallengeNotFound,
  InvalidCode,
  MethodNotOffered,
} from './challenge.errors';
import { ChallengeStore } from './challenge.store';
import type { VerifyChallengeBody } from './dto/verify-challenge.dto';
import { chooseMethods } from './method-choice';

/** What `amr` says for each method (RFC 8176). */
const AMR: Record<ChallengeMethod, string[]> = {
  totp: ['otp'],
  webauthn: ['hwk', 'user'],
  recovery_code: ['otp'],
};

export interface PassedChallenge extends IssuedToken {
  acr: string;
}

@Injectable()
export class ChallengesService {
  private readonly logger = new Logger(ChallengesService.name);

  constructor(
    private readonly store: ChallengeStore,
    private readonly factors: FactorVerifiers,
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
    if (choice.status !== 'open') return choice;
    if (await this.subjectLockedOut(request.subject, nowMs)) {
      return { status: 'denied', reason: 'too many wrong codes for this account recently; try again later' };
    }
    const challenge: Challenge = {
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
    const attempt = { challenge, caller, method: body.method, nowMs };

    await this.refuseUnlessOpen(challenge, attempt, nowMs);
    if (await this.subjectLockedOut(challenge.subject, nowMs)) {
      await this.publish(attempt, 'locked', 0);
      throw new ChallengeLocked('too many wrong codes for this account recently; try again later');
    }
    // The attempt is counted before the code is looked at, so parallel guesses cannot outrun the limit.
    const attemptsLeft = await this.store.takeAttempt(challenge.id, nowMs);
    if (attemptsLeft === null) {
      // Lost a race with another attempt: report the challenge's state as it is now.
      await this.refuseUnlessOpen((await this.store.find(id)) ?? challenge, attempt, nowMs);
      await this.publish(attempt, 'locked', 0);
      throw new ChallengeLocked('no attempts left on this challenge');
    }

    const verifier = this.factors.verifierFor(body.method);
    const passed = verifier ? await verifier.verify(challenge.subject, body.code, nowMs) : false;
    if (!passed) {
      await this.store.recordFailure(challenge.id);
      await this.publish(attempt, 'failed', attemptsLeft);
      throw new InvalidCode(attemptsLeft);
    }
    if (!(await this.store.markPassed(challenge.id, nowMs))) throw new ChallengeCompleted();
    const issued = await this.tokens.issue(
      {
        subject: challenge.subject,
        acr: challenge.requiredAcr,
        amr: AMR[body.method],
        deviceId: challenge.deviceId,
        sessionId: challenge.sessionId,
        maxAgeSeconds: challenge.maxAgeSeconds,
      },
      nowMs,
    );
    await this.publish(attempt, 'passed', attemptsLeft);
    return { ...issued, acr: challenge.requiredAcr };
  }

  /** Throws (after publishing the outcome) unless the challenge can still take attempts. */
  private async refuseUnlessOpen(challenge: Challenge, attempt: Attempt, nowMs: number): Promise<void> {
    if (challenge.status === 'passed') throw new ChallengeCompleted();
    if (challenge.expiresAt <= nowMs) {
      await this.publish(attempt, 'expired', challenge.attemptsLeft);
      throw new ChallengeExpired();
    }
    if (challenge.status === 'locked' || challenge.attemptsLeft <= 0) {
      await this.publish(attempt, 'locked', 0);
      throw new ChallengeLocked('no attempts left on this challenge');
    }
  }

  private async subjectLockedOut(subject: string, nowMs: number): Promise<boolean> {
    const { maxFailures, windowSeconds } = this.config.challenge.subjectLockout;
    return (await this.store.failuresSince(subject, nowMs - windowSeconds * 1000)) >= maxFailures;
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
  challenge: Challenge;
  caller: Caller;
  method: ChallengeMethod;
  nowMs: number;
}

/** Only the subject, on the device and in the session the challenge was opened for, may complete it. */
function assertSameParty(challenge: Challenge, caller: Caller): void {
  if (caller.token.subject !== challenge.subject) {
    throw new ChallengeForbidden('subject_mismatch', 'this challenge belongs to another account');
  }
  if (caller.deviceId !== challenge.deviceId) {
    throw new ChallengeForbidden(
      'device_mismatch',
      'a challenge can only be completed on the device it was opened for',
    );
  }
  if (challenge.sessionId && caller.token.sessionId && caller.token.sessionId !== challenge.sessionId) {
    throw new ChallengeForbidden('session_mismatch', 'this challenge belongs to another session');
  }
}
