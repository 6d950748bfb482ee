// Which methods a challenge offers: those the policy allows at the risk level, that can attest the acr the
// route requires, and that the subject has enrolled. Pure, so every combination is easy to test.
import type { ChallengeMethod, RiskLevel } from '@stepgate/contracts';
import { acrRank } from '@stepgate/identity';
import type { ChallengeSection } from '../config';

export type MethodChoice =
  | { status: 'open'; methods: ChallengeMethod[] }
  | { status: 'denied' | 'enrolment_required'; reason: string };

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
    // Recovery codes only back up a real factor, so they are never what to enrol.
    const enrollable = strongEnough.filter((m) => m !== 'recovery_code');
    if (enrollable.length === 0) {
      return {
        status: 'denied',
        reason: `only recovery codes are allowed at risk level ${input.level}, and none are left`,
      };
    }
    return {
      status: 'enrolment_required',
      reason: `add ${enrollable.map((m) => METHOD_NAMES[m]).join(' or ')} (${enrollable.join(', ')}) to continue`,
    };
  }
  return { status: 'open', methods: usable };
}

export const METHOD_NAMES: Record<ChallengeMethod, string> = {
  webauthn: 'a passkey',
  totp: 'an authenticator app',
  recovery_code: 'a recovery code',
};
