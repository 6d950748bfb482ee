import { DomainError, InvalidRequest } from '@stepgate/observability';
import { describe, expect, it } from 'vitest';
import * as challengeErrors from '../challenges/challenge.errors';
import * as factorErrors from '../factors/factor.errors';
import { challengeHttpErrors, challengeHttpStatuses } from './challenge-errors.filter';
import * as callerErrors from './http.errors';

const {
  ChallengeCompleted,
  ChallengeExpired,
  ChallengeForbidden,
  ChallengeLocked,
  ChallengeNotFound,
  InvalidCode,
  MethodNotOffered,
  TooManyAttempts,
} = challengeErrors;
const {
  CredentialAlreadyRegistered,
  EnrolmentNotAllowed,
  FactorAlreadyActive,
  FactorDeviceMismatch,
  FactorExpired,
  FactorNotFound,
  FactorRequired,
  InvalidActivationCode,
  InvalidWebauthnResponse,
  RiskUnavailable,
  StepUpRequired,
  TooManyFactors,
} = factorErrors;
const { AuthenticationFailed, CsrfRejected, DeviceIdRequired, MalformedCredentials } = callerErrors;

describe('challengeHttpErrors', () => {
  it.each([
    [new ChallengeNotFound(), 404],
    [new ChallengeExpired(), 410],
    [new ChallengeCompleted(), 410],
    [new ChallengeLocked('no attempts left'), 429],
    [new TooManyAttempts(30), 429],
    [new ChallengeForbidden('device_mismatch', 'another device'), 403],
    [new MethodNotOffered('totp'), 400],
    [new InvalidCode(2), 401],
    [new StepUpRequired('urn:stepgate:acr:mfa', 300), 403],
    [new EnrolmentNotAllowed('no'), 403],
    [new RiskUnavailable('timeout'), 503],
    [new FactorNotFound(), 404],
    [new FactorAlreadyActive(), 409],
    [new FactorExpired(), 410],
    [new FactorDeviceMismatch(), 403],
    [new InvalidActivationCode(), 400],
    [new TooManyFactors(5), 409],
    [new InvalidWebauthnResponse('bad'), 400],
    [new CredentialAlreadyRegistered(), 409],
    [new FactorRequired(), 409],
    [new AuthenticationFailed('invalid_token', 'expired', 'Bearer realm="stepgate"'), 401],
    [new MalformedCredentials('two headers', 'Bearer realm="stepgate"'), 400],
    [new DeviceIdRequired(), 400],
    [new CsrfRejected('missing'), 403],
    [new InvalidRequest('bad body'), 400],
  ])('answers %s with %i', (error, status) => {
    expect(challengeHttpErrors.answer(error).status).toBe(status);
  });

  it('has a status for every error the service declares', () => {
    const modules: object[] = [challengeErrors, factorErrors, callerErrors];
    const exported = modules.flatMap((m) => Object.values(m) as unknown[]);
    const declared = exported.filter(
      (v): v is { name: string; prototype: DomainError } =>
        typeof v === 'function' && (v as { prototype: unknown }).prototype instanceof DomainError,
    );
    expect(declared).toHaveLength(24);
    for (const type of declared) {
      const instance = Object.create(type.prototype) as DomainError;
      expect(challengeHttpStatuses.of(instance), type.name).toBeDefined();
    }
  });

  it('sends the challenge of a refused credential, and says when to come back', () => {
    expect(
      challengeHttpErrors.answer(new AuthenticationFailed('unauthorized', 'none', 'Bearer realm="stepgate"'))
        .headers,
    ).toEqual({ 'WWW-Authenticate': 'Bearer realm="stepgate"' });
    expect(challengeHttpErrors.answer(new TooManyAttempts(30)).headers).toEqual({ 'Retry-After': '30' });
  });
});
