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
    return { status: 'enrolment_required', reason: `enrol one of: ${strongEnough.join(', ')}` };
  }
  return { status: 'open', methods: usable };
}
