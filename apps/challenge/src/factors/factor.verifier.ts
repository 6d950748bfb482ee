import type { ChallengeMethod } from '@stepgate/contracts';

/** One kind of factor, as challenges see it. Each method (totp/, later webauthn/) implements this. */
export interface FactorVerifier {
  readonly method: ChallengeMethod;
  /** Whether the subject has at least one active factor of this method. */
  hasActive(subject: string): Promise<boolean>;
  /**
   * Checks a response and consumes it. True at most once for any one response, also when the same response
   * arrives concurrently on several instances: the check and the consumption are one atomic step.
   */
  verify(subject: string, response: string, nowMs: number): Promise<boolean>;
}
