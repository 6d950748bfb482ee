import type { ChallengeMethod } from '@stepgate/contracts';

/**
 * One kind of factor, as challenges see it (totp/, webauthn/, recovery/). Each also verifies a response for a
 * challenge, in its own terms, and consumes it in the same atomic step: true at most once for any response,
 * also when it arrives concurrently on several instances.
 */
export interface FactorVerifier {
  readonly method: ChallengeMethod;
  /** Whether the subject has at least one usable factor of this method. */
  hasActive(subject: string): Promise<boolean>;
}
