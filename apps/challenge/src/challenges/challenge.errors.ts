import { DomainError } from '@stepgate/observability';

export class ChallengeNotFound extends DomainError {
  constructor() {
    super('challenge_not_found', 'no such challenge', 404);
  }
}

export class ChallengeExpired extends DomainError {
  constructor() {
    super('challenge_expired', 'the challenge has expired; retry the request to get a new one', 410);
  }
}

export class ChallengeCompleted extends DomainError {
  constructor() {
    super('challenge_completed', 'the challenge was already passed; each challenge yields one token', 410);
  }
}

export class ChallengeLocked extends DomainError {
  constructor(reason: string) {
    super('challenge_locked', reason, 429, { attempts_left: 0 });
  }
}

export class ChallengeForbidden extends DomainError {
  constructor(code: 'subject_mismatch' | 'device_mismatch' | 'session_mismatch', reason: string) {
    super(code, reason, 403);
  }
}

export class MethodNotOffered extends DomainError {
  constructor(method: string) {
    super('method_not_allowed', `this challenge cannot be passed with ${method}`, 400);
  }
}

export class InvalidCode extends DomainError {
  constructor(attemptsLeft: number) {
    super('invalid_code', 'the code is wrong, expired, or was already used', 401, {
      attempts_left: attemptsLeft,
    });
  }
}
