// The gateway's decision for one request, from the route policy, the risk level and the token. Pure.
import type { RiskLevel } from '@stepgate/contracts';
import { acrRank, type VerifiedToken } from '@stepgate/identity';
import type { RoutePolicy } from '../config';

export type Decision =
  | { outcome: 'allow'; reason: string }
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
      const { acr, maxAgeSeconds } = route.stepUp!;
      if (satisfiesStepUp(token, acr, maxAgeSeconds, acrLevels, nowSeconds)) {
        return { outcome: 'allow', reason: `${why}, stepped up` };
      }
      return { outcome: 'step_up', reason: why, acr, maxAgeSeconds };
    }
  }
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
