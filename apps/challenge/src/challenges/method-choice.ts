// Which methods a challenge offers (those the policy allows at the risk level, that can attest the acr the
// route requires, and that the subject has enrolled), and what a passed method attests. Pure, so every
// combination is easy to test.
import type { ChallengeMethod, RiskLevel } from '@stepgate/contracts';
import { acrRank } from '@stepgate/policy';
import type { ChallengeSection } from '../config';

export type MethodChoice =
  | { status: 'open'; methods: ChallengeMethod[] }
  | { status: 'denied'; reason: string }
  /** `methods`: what to enrol, strongest first (the client's enrolment hint points at the first). */
  | { status: 'enrolment_required'; reason: string; methods: ChallengeMethod[] };

export interface MethodChoiceInput {
  level: RiskLevel;
  requiredAcr: string;
  acrLevels: readonly string[];
  policy: ChallengeSection['methods'];
  /** The strongest acr each method can attest. */
  methodAcr: Readonly<Record<string, string>>;
  enrolled: readonly ChallengeMethod[];
}

export function chooseMethods(input: MethodChoiceInput): MethodChoice {
  const required = acrRank(input.acrLevels, input.requiredAcr);
  if (required < 0) return { status: 'denied', reason: `unknown acr ${input.requiredAcr}` };
  const allowed: ChallengeMethod[] = [...input.policy[input.level]];
  if (allowed.length === 0)
    return { status: 'denied', reason: `no step-up method is allowed at risk level ${input.level}` };
  const strongEnough = allowed.filter(
    (m) => acrRank(input.acrLevels, input.methodAcr[m] ?? null) >= required,
  );
  if (strongEnough.length === 0) {
    return {
      status: 'denied',
      reason: `no method allowed at risk level ${input.level} can attest ${input.requiredAcr}`,
    };
  }
  const usable = strongEnough.filter((m) => input.enrolled.includes(m));
  if (usable.length === 0) {
    // Recovery codes only back up a real factor, so they are never what to enrol. Strongest first, so a
    // passkey is what the client is sent to whenever one would do.
    const rank = (m: ChallengeMethod) => acrRank(input.acrLevels, input.methodAcr[m] ?? null);
    const enrollable = strongEnough.filter((m) => m !== 'recovery_code').sort((a, b) => rank(b) - rank(a));
    if (enrollable.length === 0) {
      return {
        status: 'denied',
        reason: `only recovery codes are allowed at risk level ${input.level}, and none are left`,
      };
    }
    return {
      status: 'enrolment_required',
      reason: `add ${enrollable.map((m) => METHOD_NAMES[m]).join(' or ')} (${enrollable.join(', ')}) to continue`,
      methods: enrollable,
    };
  }
  return { status: 'open', methods: usable };
}

export interface AttestationInput {
  method: ChallengeMethod;
  /** A passkey assertion verified the user (PIN, biometrics); ignored for other methods. */
  userVerified: boolean;
  requiredAcr: string;
  acrLevels: readonly string[];
  /** The strongest acr each method can attest. */
  methodAcr: Readonly<Record<string, string>>;
  /** The acr from which a passkey must verify the user (webauthn.userVerificationAcr). */
  userVerificationAcr: string;
}

/**
 * The acr a passed answer attests: the strongest its method can (so a stepped-up token carries what it proves,
 * not only what the route asked for that moment), a passkey without user verification below the level that
 * needs it; null when that is below the challenge's required acr, or either acr is unknown.
 */
export function attestedAcr(input: AttestationInput): string | null {
  const levels = input.acrLevels;
  let rank = acrRank(levels, input.methodAcr[input.method] ?? null);
  if (input.method === 'webauthn' && !input.userVerified)
    rank = Math.min(rank, acrRank(levels, input.userVerificationAcr) - 1);
  const required = acrRank(levels, input.requiredAcr);
  if (required < 0 || rank < required) return null;
  return levels[rank] ?? null;
}

export const METHOD_NAMES: Record<ChallengeMethod, string> = {
  webauthn: 'a passkey',
  totp: 'an authenticator app',
  recovery_code: 'a recovery code',
};
