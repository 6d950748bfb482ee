import { DomainError, type HttpStatusList } from '@stepgate/observability';

export class ChallengeNotFound extends DomainError {
  constructor() {
    super('challenge_not_found', 'no such challenge');
  }
}

export class ChallengeExpired extends DomainError {
  constructor() {
    super('challenge_expired', 'the challenge has expired; retry the request to get a new one');
  }
}

export class ChallengeCompleted extends DomainError {
  constructor() {
    super('challenge_completed', 'the challenge was already passed; each challenge yields one token');
  }
}

export class ChallengeLocked extends DomainError {
  constructor(reason: string, retryAfterSeconds?: number) {
    super('challenge_locked', reason, {
      attempts_left: 0,
      ...(retryAfterSeconds === undefined ? {} : { retry_after: retryAfterSeconds }),
    });
  }
}

/** Failures slow the subject down: come back after `retry_after` seconds (also in Retry-After). */
export class TooManyAttempts extends DomainError {
  constructor(retryAfterSeconds: number) {
    super(
      'too_many_attempts',
      `too many wrong answers for this account; wait ${retryAfterSeconds} s before trying again`,
      { retry_after: retryAfterSeconds },
    );
  }
}

export class ChallengeForbidden extends DomainError {
  constructor(code: 'subject_mismatch' | 'device_mismatch' | 'session_mismatch', reason: string) {
    super(code, reason);
  }
}

export class MethodNotOffered extends DomainError {
  constructor(method: string) {
    super('method_not_allowed', `this challenge cannot be passed with ${method}`);
  }
}

export class InvalidCode extends DomainError {
  constructor(attemptsLeft: number, method: string = 'totp') {
    super(
      'invalid_code',
      method === 'webauthn'
        ? 'the passkey response was not accepted'
        : 'the code is wrong, expired, or was already used',
      { attempts_left: attemptsLeft },
    );
  }
}

export const CHALLENGE_HTTP_STATUSES: HttpStatusList = [
  [ChallengeNotFound, 404],
  [ChallengeExpired, 410],
  [ChallengeCompleted, 410],
  [ChallengeLocked, 429],
  [TooManyAttempts, 429],
  [ChallengeForbidden, 403],
  [MethodNotOffered, 400],
  [InvalidCode, 401],
];
