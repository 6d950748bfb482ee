// Who may pass a route at all: claim values and groups, matched against the verified token. Pure.
import type { JWTPayload } from 'jose';
import type { ClaimValue, RoutePolicy } from '../config';

export const GROUPS_CLAIM = 'groups';

/** Null when the token meets the route's `require`, else why not. */
export function unmetRequirement(route: RoutePolicy, claims: JWTPayload): string | null {
  const req = route.require;
  if (!req) return null;
  for (const [name, wanted] of Object.entries(req.claims ?? {})) {
    const accepted: ClaimValue[] = Array.isArray(wanted) ? wanted : [wanted];
    const actual = claims[name];
    // A multi-valued claim (array) passes when any of its values is accepted; only scalars compare.
    const values = Array.isArray(actual) ? (actual as unknown[]) : [actual];
    if (!values.some((v) => accepted.some((a) => a === v))) return `claim ${name} not accepted`;
  }
  if (req.groups) {
    const raw = claims[GROUPS_CLAIM];
    const groups = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
    if (!req.groups.some((g) => groups.includes(g))) return 'not in a required group';
  }
  return null;
}
