// The gateway's decision for one request, from the route policy, the risk level and the token. Pure.
import { RISK_LEVELS, type RiskLevel } from '@stepgate/contracts';
import type { VerifiedToken } from '@stepgate/identity';
import { acrRank, requiredAcr } from '@stepgate/policy';
import type { RoutePolicy } from '../config';

export type Decision =
  /** `steppedUp`: allowed because the token satisfied the step-up the level asks for. */
  | { outcome: 'allow'; reason: string; steppedUp?: boolean }
  | { outcome: 'deny'; reason: string }
  | { outcome: 'step_up'; reason: string; acr: string; maxAgeSeconds: number };

export interface DecisionInput {
  route: RoutePolicy;
  /** null when risk did not answer in time. */
  level: RiskLevel | null;
  token: VerifiedToken;
  acrLevels: readonly string[];
  nowSeconds: number;
}

export function decide({ route, level, token, acrLevels, nowSeconds }: DecisionInput): Decision {
  const wanted = level === null ? route.onRiskUnavailable : route.decisions[level];
  const why = level === null ? 'risk unavailable' : `risk ${level}`;
  switch (wanted) {
    case 'allow':
      return { outcome: 'allow', reason: why };
    case 'deny':
      return { outcome: 'deny', reason: why };
    case 'step_up': {
      // The config schema guarantees stepUp wherever a decision can be step_up.
      const stepUp = route.stepUp!;
      // The strength is the level's, checked here where the token is used: a token minted at a weaker
      // moment (or an issuer's mfa) does not pass where the level asks for more.
      const acr = level === null ? strongestAcr(route, acrLevels) : requiredAcr(stepUp, level);
      if (satisfiesStepUp(token, acr, stepUp.maxAgeSeconds, acrLevels, nowSeconds)) {
        return { outcome: 'allow', reason: `${why}, stepped up`, steppedUp: true };
      }
      return { outcome: 'step_up', reason: why, acr, maxAgeSeconds: stepUp.maxAgeSeconds };
    }
  }
}

/** Without a risk level (risk did not answer), a step-up asks for the most any level of the route asks. */
function strongestAcr(route: RoutePolicy, acrLevels: readonly string[]): string {
  let strongest = route.stepUp!.acr;
  for (const level of RISK_LEVELS) {
    const acr = requiredAcr(route.stepUp!, level);
    if (route.decisions[level] === 'step_up' && acrRank(acrLevels, acr) > acrRank(acrLevels, strongest))
      strongest = acr;
  }
  return strongest;
}

export function satisfiesStepUp(
  token: VerifiedToken,
  acr: string,
  maxAgeSeconds: number,
  acrLevels: readonly string[],
  nowSeconds: number,
): boolean {
  const required = acrRank(acrLevels, acr);
  return (
    required >= 0 &&
    acrRank(acrLevels, token.acr) >= required &&
    token.authTime !== null &&
    nowSeconds - token.authTime <= maxAgeSeconds
  );
}
