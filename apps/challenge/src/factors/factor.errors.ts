import { DomainError } from '@stepgate/observability';

export class StepUpRequired extends DomainError {
  constructor(acr: string, maxAgeSeconds: number) {
    super(
      'step_up_required',
      'adding or removing a factor on an account that has one needs a recent step-up on this device',
      403,
      {
        acr,
        max_age_seconds: maxAgeSeconds,
      },
    );
  }
}

export class EnrolmentNotAllowed extends DomainError {
  constructor(reason: string) {
    super('enrolment_not_allowed', reason, 403);
  }
}

export class RiskUnavailable extends DomainError {
  constructor(reason: string) {
    super('risk_unavailable', `cannot assess this request, so it is refused: ${reason}`, 503);
  }
}

export class FactorNotFound extends DomainError {
  constructor() {
    super('factor_not_found', 'no such factor', 404);
  }
}

export class FactorAlreadyActive extends DomainError {
  constructor() {
    super('factor_already_active', 'the factor is already active', 409);
  }
}

export class FactorExpired extends DomainError {
  constructor() {
    super('factor_expired', 'the pending factor was not activated in time; enrol again', 410);
  }
}

export class FactorDeviceMismatch extends DomainError {
  constructor() {
    super('device_mismatch', 'a factor must be activated from the device that enrolled it', 403);
  }
}

export class InvalidActivationCode extends DomainError {
  constructor() {
    super('invalid_code', 'the code is wrong, expired, or was already used', 400);
  }
}

export class TooManyFactors extends DomainError {
  constructor(limit: number) {
    super('too_many_factors', `at most ${limit} factors of one kind, pending ones included`, 409);
  }
}

export class InvalidWebauthnResponse extends DomainError {
  constructor(reason: string) {
    super('invalid_response', `the passkey response was not accepted: ${reason}`, 400);
  }
}

export class CredentialAlreadyRegistered extends DomainError {
  constructor() {
    super('credential_exists', 'this passkey is already registered', 409);
  }
}

export class FactorRequired extends DomainError {
  constructor() {
    super(
      'factor_required',
      'recovery codes back up an authenticator app or a passkey: add one of those first',
      409,
    );
  }
}
