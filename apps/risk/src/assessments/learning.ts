// What an access teaches. Risk decides from its own score of the access under the policy in force, never from
// the gateway's level (which may come from the gateway's cache, scored for an earlier context: an attacker
// served from it would become the device's normal) and never from the event's free-text reason. Pure.
import type { AccessEvent, RiskLevel } from '@stepgate/contracts';
import { acrRank, requiredAcr } from '@stepgate/policy';
import type { RouteView } from '@stepgate/policy';

/** The parts of the policy in force that learning reads: the routes by id and the ordered acr levels. */
export interface LearningPolicyView {
  routes: ReadonlyMap<string, RouteView>;
  /** policy.acr.levels, weakest first; empty when unknown (then no step-up teaches). */
  acrLevels: readonly string[];
}

export type LearnedFields = Pick<AccessEvent, 'decision' | 'route' | 'monitored' | 'steppedUp' | 'acr'>;

/**
 * Whether an access becomes history, given `level`, risk's own level for it, and `history`, the accesses
 * risk had learned for the subject before it. The gateway must have forwarded it, not in monitor mode, on
 * one of the policy's routes (StepGate's own API, allowed without asking risk, is not one: a stolen token
 * calling it must not make its device familiar). Then:
 * - at low risk, where the route allows: learned;
 * - where the route steps up at that level: learned only if the access passed a step-up whose acr meets
 *   what the route asks there (the gateway's `steppedUp` vouches for max_age, which the event does not carry);
 * - above low where the route allows anyway (a low-sensitivity route): not learned, unless the subject has
 *   no history yet. Otherwise a copied device id would make its network and browser familiar with one call
 *   to such a route, and pass the next payments call: familiarity with a new context is earned by a step-up.
 *   A subject's very first access has no normal to protect, and is how a client that never steps up (an API
 *   client without a device id) starts a history at all.
 * - where the route denies: never.
 */
export function learns(
  event: LearnedFields,
  level: RiskLevel,
  policy: LearningPolicyView,
  history: number,
): boolean {
  if (event.decision !== 'allow' || event.monitored || event.route === null) return false;
  const route = policy.routes.get(event.route);
  if (route === undefined) return false;
  switch (route.decisions[level]) {
    case 'allow':
      return level === 'low' || history === 0;
    case 'deny':
      return false;
    case 'step_up': {
      if (!event.steppedUp || route.stepUp === undefined) return false;
      const required = acrRank(policy.acrLevels, requiredAcr(route.stepUp, level));
      return required >= 0 && acrRank(policy.acrLevels, event.acr) >= required;
    }
  }
}

/**
 * Whether an access risk does not learn still counts as its device having been used successfully
 * (`WorkingProfile.sightDevice`): the gateway forwarded it, not in monitor mode, on one of the policy's
 * routes, and that route allows it at risk's own level (a lenient route at medium, never a cached allow
 * where risk's own level steps up).
 */
export function sighted(event: LearnedFields, level: RiskLevel, policy: LearningPolicyView): boolean {
  if (event.decision !== 'allow' || event.monitored || event.route === null) return false;
  return policy.routes.get(event.route)?.decisions[level] === 'allow';
}
