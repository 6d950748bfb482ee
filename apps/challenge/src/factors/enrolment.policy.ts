// Who may add a factor, as a pure decision. A first factor is governed by `firstFactorEnrolment`; any further
// one needs a fresh stepped-up token from this device, so a stolen access token cannot add the thief's factor.
import type { VerifiedToken } from '@stepgate/identity';
import { acrRank } from '@stepgate/policy';
import type { ChallengeSection } from '../config';

export type FirstFactorEnrolmentSettings = ChallengeSection['firstFactorEnrolment'];

export interface StepUpRequirement {
  acrLevels: readonly string[];
  acr: string;
  maxAgeSeconds: number;
  clockSkewSeconds: number;
}

export type EnrolmentDecision =
  | { outcome: 'allow'; authorisation: string }
  /** seen-device: allowed only if risk knows the device; the caller asks and fails closed. */
  | { outcome: 'check_device' }
  | { outcome: 'step_up_required' }
  /** A first factor needs a recent sign-in: an old (possibly stolen) access token cannot enrol one. */
  | { outcome: 'reauthentication_required' }
  | { outcome: 'closed' };

export const STEP_UP_AUTHORISATION = 'step_up';
export const firstFactorAuthorisation = (policy: FirstFactorEnrolmentSettings): string =>
  `first_factor:${policy}`;

export function decideEnrolment(input: {
  hasActiveFactor: boolean;
  policy: FirstFactorEnrolmentSettings;
  token: VerifiedToken;
  deviceId: string;
  requirement: StepUpRequirement;
  /** How recent the sign-in behind a first-factor enrolment must be. */
  firstFactorMaxAuthAgeSeconds: number;
  nowMs: number;
}): EnrolmentDecision {
  if (input.hasActiveFactor) {
    return isFreshStepUp(input.token, input.deviceId, input.requirement, input.nowMs)
      ? { outcome: 'allow', authorisation: STEP_UP_AUTHORISATION }
      : { outcome: 'step_up_required' };
  }
  if (input.policy === 'never') return { outcome: 'closed' };
  // Whoever holds an account's token could otherwise make the device "seen" with one allowed request and then
  // enrol their own first factor. Demanding a recent sign-in narrows that to a token fresh from a login.
  const age = input.token.authTime === null ? Infinity : input.nowMs / 1000 - input.token.authTime;
  if (age < -input.requirement.clockSkewSeconds || age > input.firstFactorMaxAuthAgeSeconds) {
    return { outcome: 'reauthentication_required' };
  }
  switch (input.policy) {
    case 'any-device':
      return { outcome: 'allow', authorisation: firstFactorAuthorisation('any-device') };
    case 'seen-device':
      return { outcome: 'check_device' };
  }
}

/**
 * A stepped-up token (not an access token) at or above the required acr, authenticated recently, on this
 * device. An auth_time in the future is not "recent": it is a token to distrust.
 */
export function isFreshStepUp(
  token: VerifiedToken,
  deviceId: string,
  req: StepUpRequirement,
  nowMs: number,
): boolean {
  if (token.kind !== 'stepup' || token.authTime === null || token.deviceId !== deviceId) return false;
  const required = acrRank(req.acrLevels, req.acr);
  if (required < 0 || acrRank(req.acrLevels, token.acr) < required) return false;
  const age = nowMs / 1000 - token.authTime;
  return age >= -req.clockSkewSeconds && age <= req.maxAgeSeconds;
}

/** Activation re-checks enrolment: a factor enrolled as a first factor may have been overtaken by another one. */
export function activationNeedsStepUp(enrolmentAuthorisation: string, hasActiveFactor: boolean): boolean {
  return hasActiveFactor && enrolmentAuthorisation !== STEP_UP_AUTHORISATION;
}
