// A loose view of `policy.routes`: what a route asks for at each level (for backtesting) and what a step-up
// must prove (for deciding what a stepped-up access teaches). Only the fields risk and the backtest read,
// anything else passes; strict validation of the section is the gateway's (route-policy.ts).
import { loadConfig, type RuntimeEnv } from '@stepgate/config';
import { RISK_LEVELS, type RiskLevel } from '@stepgate/contracts';
import { z } from 'zod';

const routeDecision = z.enum(['allow', 'step_up', 'deny']);

export const routeViewSchema = z.looseObject({
  id: z.string().min(1),
  decisions: z.strictObject({
    low: routeDecision,
    medium: routeDecision,
    high: routeDecision,
    critical: routeDecision,
  }),
  onRiskUnavailable: routeDecision.default('deny'),
  mode: z.enum(['enforce', 'monitor']).default('enforce'),
  stepUp: z
    .looseObject({
      acr: z.string(),
      maxAgeSeconds: z.number(),
      acrByLevel: z.partialRecord(z.enum(RISK_LEVELS), z.string()).optional(),
    })
    .optional(),
});
export interface RouteView extends Pick<
  z.infer<typeof routeViewSchema>,
  'id' | 'decisions' | 'onRiskUnavailable' | 'mode'
> {
  stepUp?: { acr: string; maxAgeSeconds: number; acrByLevel?: Partial<Record<RiskLevel, string>> };
}

/** The routes and the ordered acr levels (weakest first; empty when the section names none). */
export interface RoutesView {
  routes: RouteView[];
  acrLevels: string[];
}

export const acrLevelsSchema = z
  .looseObject({ levels: z.array(z.string()).default([]) })
  .optional()
  .transform((acr) => acr?.levels ?? []);

const routesViewConfig = z.looseObject({
  policy: z.looseObject({ routes: z.array(routeViewSchema).default([]), acr: acrLevelsSchema }).prefault({}),
});

/** The routes and acr levels from the config file (loosely: the gateway validates the section strictly). */
export function loadRoutesView(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): RoutesView {
  const { policy } = loadConfig(routesViewConfig, { file: runtime.configFile, env: runtime.env });
  return { routes: policy.routes.map(routeViewOf), acrLevels: policy.acr };
}

/** The routes' decisions from the config file. */
export function loadRouteViews(runtime: Pick<RuntimeEnv, 'configFile' | 'env'>): RouteView[] {
  return loadRoutesView(runtime).routes;
}

export function routeViewOf(r: z.infer<typeof routeViewSchema>): RouteView {
  const view: RouteView = {
    id: r.id,
    decisions: r.decisions,
    onRiskUnavailable: r.onRiskUnavailable,
    mode: r.mode,
  };
  if (r.stepUp) {
    const { acr, maxAgeSeconds, acrByLevel } = r.stepUp;
    view.stepUp = acrByLevel ? { acr, maxAgeSeconds, acrByLevel } : { acr, maxAgeSeconds };
  }
  return view;
}
