import { DomainError, type HttpStatusList } from '@stepgate/observability';

export class StepUpRequired extends DomainError {
  constructor(acr: string, maxAgeSeconds: number) {
    super(
      'step_up_required',
      'adding or removing a factor on an account that has one needs a recent step-up on this device',
      { acr, max_age_seconds: maxAgeSeconds },
    );
  }
}

export class EnrolmentNotAllowed extends DomainError {
  constructor(reason: string) {
    super('enrolment_not_allowed', reason);
  }
}

export class RiskUnavailable extends DomainError {
  constructor(reason: string) {
    super('risk_unavailable', `cannot assess this request, so it is refused: ${reason}`);
  }
}

export class FactorNotFound extends DomainError {
  constructor() {
    super('factor_not_found', 'no such factor');
  }
}

export class FactorAlreadyActive extends DomainError {
  constructor() {
    super('factor_already_active', 'the factor is already active');
  }
}

export class FactorExpired extends DomainError {
  constructor() {
    super('factor_expired', 'the pending factor was not activated in time; enrol again');
  }
}

export class FactorDeviceMismatch extends DomainError {
  constructor() {
    super('device_mismatch', 'a factor must be activated from the device that enrolled it');
  }
}

export class InvalidActivationCode extends DomainError {
  constructor() {
    super('invalid_code', 'the code is wrong, expired, or was already used');
  }
}

export class TooManyFactors extends DomainError {
  constructor(limit: number) {
    super('too_many_factors', `at most ${limit} factors of one kind, pending ones included`);
  }
}

export class InvalidWebauthnResponse extends DomainError {
  constructor(reason: string) {
    super('invalid_response', `the passkey response was not accepted: ${reason}`);
  }
}

export class CredentialAlreadyRegistered extends DomainError {
  constructor() {
    super('credential_exists', 'this passkey is already registered');
  }
}

export class FactorRequired extends DomainError {
  constructor() {
    super(
      'factor_required',
      'recovery codes back up an authenticator app or a passkey: add one of those first',
    );
  }
}

export const FACTOR_HTTP_STATUSES: HttpStatusList = [
  [StepUpRequired, 403],
  [EnrolmentNotAllowed, 403],
  [RiskUnavailable, 503],
  [FactorNotFound, 404],
  [FactorAlreadyActive, 409],
  [FactorExpired, 410],
  [FactorDeviceMismatch, 403],
  [InvalidActivationCode, 400],
  [TooManyFactors, 409],
  [InvalidWebauthnResponse, 400],
  [CredentialAlreadyRegistered, 409],
  [FactorRequired, 409],
];
