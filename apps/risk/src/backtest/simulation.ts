// One backtest as the endpoint and the CLI run it: the candidate resolved over the policy in force, the
// recorded decisions of the window streamed from the database, the report.
import type { EntityManager } from 'typeorm';
import { policyVersionOf, type RouteView } from '@stepgate/policy';
import type { RiskConfig } from '../config';
import { MODEL_NAME } from '@stepgate/risk-scoring';
import { backtest, type BacktestReport } from './backtest.engine';
import { resolveCandidate, backtestSidePolicyOf } from './candidate';
import { recordedDecisions } from './recorded-decisions';

export interface SimulationRequest {
  /** Any part of the config file's `risk:` and `policy:` sections. */
  candidate: unknown;
  /** Epoch ms; inclusive / exclusive. */
  from?: number;
  to?: number;
  /** Changed decisions to show (default 20). */
  sample?: number;
  /** Abandons the run between pages. */
  signal?: AbortSignal;
}

export interface PolicyInForce {
  config: RiskConfig;
  routes: readonly RouteView[];
}

export class InvalidCandidate extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid candidate: ${problems.join('; ')}`);
  }
}

export const versionOf = (config: RiskConfig) => `${MODEL_NAME}/cfg-${policyVersionOf(config)}`;

/** Throws InvalidCandidate (every problem, with its path) before reading anything. */
export async function simulate(
  em: EntityManager,
  inForce: PolicyInForce,
  request: SimulationRequest,
): Promise<BacktestReport> {
  const resolved = resolveCandidate(request.candidate, inForce.config, inForce.routes);
  if (!resolved.ok) throw new InvalidCandidate(resolved.problems);
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return backtest(
    recordedDecisions(em, { from: request.from, to: request.to, signal: request.signal }),
    backtestSidePolicyOf(inForce.config, inForce.routes, versionOf(inForce.config)),
    backtestSidePolicyOf(resolved.config, resolved.routes, versionOf(resolved.config)),
    {
      sample: request.sample,
      window: { from: iso(request.from), to: iso(request.to) },
      warnings: resolved.warnings,
    },
  );
}
