// The route policy (`policy:`): the acr levels and the routes with their decisions per risk level. Shared by
// the gateway, which enforces it, and risk, which keeps its versions and validates candidates before they are
// published to every gateway. Pure zod, no Nest.
import { RISK_LEVELS, type RiskLevel } from '@stepgate/contracts';
import { z } from 'zod';

const decision = z.enum(['allow', 'step_up', 'deny']);
const claimValue = z.union([z.string(), z.number(), z.boolean()]);

const route = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, dot, dash, underscore'),
    /** Glob over the canonical path: `*` one segment, `**` any number of segments. */
    path: z.string().startsWith('/'),
    methods: z.array(z.string().toUpperCase()).optional(),
    host: z.string().optional(),
    upstream: z.string(),
    decisions: z.strictObject(
      Object.fromEntries(RISK_LEVELS.map((l) => [l, decision])) as Record<
        (typeof RISK_LEVELS)[number],
        typeof decision
      >,
    ),
    stepUp: z
      .strictObject({
        /** What a step-up must prove at every level that steps up, unless `acrByLevel` names a stronger one. */
        acr: z.string(),
        maxAgeSeconds: z.number().int().positive(),
        /**
         * A stronger acr at some levels (e.g. `high: urn:stepgate:acr:phr`, phishing-resistant): enforced where
         * the token is used, so a token minted at a weaker level does not pass when the risk is higher.
         */
        acrByLevel: z.partialRecord(z.enum(RISK_LEVELS), z.string()).optional(),
      })
      .optional(),
    onRiskUnavailable: z.enum(['allow', 'step_up', 'deny']).default('deny'),
    /** Who may pass at all, matched against the verified token before risk is asked. */
    require: z
      .strictObject({
        claims: z.record(z.string().min(1), z.union([claimValue, z.array(claimValue).min(1)])).optional(),
        groups: z.array(z.string().min(1)).min(1).optional(),
      })
      .optional(),
    /** monitor: the decision is computed, logged, evented and counted, but the request is forwarded. */
    mode: z.enum(['enforce', 'monitor']).default('enforce'),
    /** Removed from the start of the path before forwarding (`/.stepgate` turns `/.stepgate/admin/x` into `/admin/x`). */
    stripPrefix: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'a path prefix of whole segments, e.g. /.stepgate')
      .optional(),
  })
  .refine((r) => r.stepUp || !Object.values(r.decisions).includes('step_up'), {
    message: 'a route that can step up needs stepUp { acr, maxAgeSeconds }',
    path: ['stepUp'],
  })
  .refine((r) => !r.stripPrefix || r.path === r.stripPrefix || r.path.startsWith(`${r.stripPrefix}/`), {
    message: 'the route path must start with stripPrefix',
    path: ['stripPrefix'],
  });

/** `policy:` on its own: each route valid by itself. The rules across routes are `routePolicyIssues`. */
export const routePolicySection = z.strictObject({
  acr: z.strictObject({ levels: z.array(z.string().min(1)).min(1) }),
  routes: z.array(route),
});

export type RoutePolicySection = z.infer<typeof routePolicySection>;
export type RoutePolicy = RoutePolicySection['routes'][number];
export type RouteDecision = z.infer<typeof decision>;
export type ClaimValue = z.infer<typeof claimValue>;

export interface RoutePolicyIssue {
  /** Path inside the `policy:` section, e.g. ['routes', 2, 'upstream']. */
  path: (string | number)[];
  message: string;
}

/**
 * The rules across routes: unique ids, step-up levels that exist, and (when the upstreams are known) routes
 * naming an upstream the gateway has. Empty when the section is consistent.
 */
export function routePolicyIssues(
  policy: RoutePolicySection,
  upstreams: readonly string[] | null,
): RoutePolicyIssue[] {
  const issues: RoutePolicyIssue[] = [];
  const ids = policy.routes.map((r) => r.id);
  policy.routes.forEach((r, i) => {
    if (upstreams && !upstreams.includes(r.upstream))
      issues.push({ path: ['routes', i, 'upstream'], message: `unknown upstream "${r.upstream}"` });
    if (r.stepUp && !policy.acr.levels.includes(r.stepUp.acr))
      issues.push({
        path: ['routes', i, 'stepUp', 'acr'],
        message: `"${r.stepUp.acr}" is not in policy.acr.levels`,
      });
    if (r.stepUp) issues.push(...acrByLevelIssues(r.stepUp, policy.acr.levels, ['routes', i, 'stepUp']));
    if (ids.indexOf(r.id) !== i)
      issues.push({ path: ['routes', i, 'id'], message: `duplicate route id "${r.id}"` });
  });
  return issues;
}

/**
 * The acr a step-up must prove at a risk level: the level's own (`acrByLevel`) or the route's. The level
 * requirements never weaken as risk rises (`acrByLevelIssues`), so a token good at a level is good below it.
 */
export function requiredAcr(stepUp: NonNullable<RoutePolicy['stepUp']>, level: RiskLevel | null): string {
  return (level === null ? undefined : stepUp.acrByLevel?.[level]) ?? stepUp.acr;
}

/**
 * Position of an acr in the ordered `policy.acr.levels`, weakest first. An absent or unknown acr ranks below
 * every level (-1): it never meets a requirement, and a requirement naming one is met by nothing known.
 */
export function acrRank(levels: readonly string[], acr: string | null): number {
  return acr === null ? -1 : levels.indexOf(acr);
}

function acrByLevelIssues(
  stepUp: NonNullable<RoutePolicy['stepUp']>,
  levels: readonly string[],
  at: (string | number)[],
): RoutePolicyIssue[] {
  const issues: RoutePolicyIssue[] = [];
  let floor = acrRank(levels, stepUp.acr);
  for (const level of RISK_LEVELS) {
    const acr = stepUp.acrByLevel?.[level];
    if (acr === undefined) continue;
    const rank = acrRank(levels, acr);
    if (rank < 0) {
      issues.push({ path: [...at, 'acrByLevel', level], message: `"${acr}" is not in policy.acr.levels` });
    } else if (rank < floor) {
      issues.push({
        path: [...at, 'acrByLevel', level],
        message: `"${acr}" is weaker than what a lower risk level requires: requirements must not weaken as risk rises`,
      });
    } else floor = rank;
  }
  return issues;
}
