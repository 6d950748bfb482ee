// The policy in force: weights, model, thresholds, windows, lists and retention, swapped atomically when the
// config file changes (watchConfigFile). A change that does not validate is logged and ignored: the old
// policy stays. http and kafka are read at start only; a change to them is reported as needing a restart.
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ConfigError, watchConfigFile, type ConfigWatch, type RuntimeEnv } from '@stepgate/config';
import {
  loadRiskConfig,
  loadRouteViews,
  policyVersionOf,
  scoringPolicyOf,
  type RiskConfig,
  type RouteView,
} from '../config';
import { MODEL_NAME, RiskModel } from '../scoring/risk.model';
import type { ScoringPolicy } from '../scoring/scoring.types';

export interface ActivePolicy {
  readonly config: RiskConfig;
  readonly scoring: ScoringPolicy;
  readonly model: RiskModel;
  /** `lr-1/cfg-<hash>`: the model and the config it scores with; stamped on every assessment. */
  readonly version: string;
}

export function activePolicyOf(config: RiskConfig): ActivePolicy {
  const scoring = scoringPolicyOf(config);
  const version = `${MODEL_NAME}/cfg-${policyVersionOf(config)}`;
  return { config, scoring, model: new RiskModel(scoring, version), version };
}

export class RiskPolicy implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RiskPolicy.name);
  private active: ActivePolicy;
  private watch: ConfigWatch | null = null;
  private readonly listeners = new Set<(policy: ActivePolicy) => void>();
  private routeViews: readonly RouteView[] = [];

  constructor(
    initial: RiskConfig,
    private readonly runtime: Pick<RuntimeEnv, 'configFile' | 'env'>,
  ) {
    this.active = activePolicyOf(initial);
    this.loadRoutes();
  }

  /**
   * What each route asks for at each risk level, read loosely from `policy.routes` of the same file (the
   * gateway owns and validates that section; risk only needs it to backtest). Reloaded with the rest.
   */
  get routes(): readonly RouteView[] {
    return this.routeViews;
  }

  /** The policy to use now. Read it once per unit of work, so one assessment never mixes two policies. */
  get current(): ActivePolicy {
    return this.active;
  }

  onChange(listener: (policy: ActivePolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onModuleInit(): void {
    this.logger.log(`risk policy ${this.active.version} in force`);
    const { watch, debounceMs } = this.active.config.reload;
    if (watch)
      this.watch = watchConfigFile(this.runtime.configFile, debounceMs, () => this.reload(), this.logger);
  }

  onModuleDestroy(): void {
    this.watch?.close();
  }

  /** Re-reads the config file now; true when a new policy took effect. Also what the watcher calls. */
  reload(): boolean {
    this.loadRoutes();
    let next: RiskConfig;
    try {
      next = loadRiskConfig(this.runtime);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      this.logger.error(`config change rejected, keeping policy ${this.active.version}: ${problems}`);
      return false;
    }
    const previous = this.active;
    // What only takes effect at start keeps its start value, so the active config never lies about it.
    const merged: RiskConfig = { ...next, http: previous.config.http, kafka: previous.config.kafka };
    if (
      JSON.stringify([next.http, next.kafka]) !==
      JSON.stringify([previous.config.http, previous.config.kafka])
    ) {
      this.logger.warn('risk.http or risk.kafka changed: they take effect at the next restart');
    }
    const candidate = activePolicyOf(merged);
    if (candidate.version === previous.version) return false;
    this.active = candidate;
    this.logger.log(`risk policy ${previous.version} -> ${candidate.version} in force`);
    for (const listener of this.listeners) listener(candidate);
    return true;
  }

  private loadRoutes(): void {
    try {
      this.routeViews = loadRouteViews(this.runtime);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      this.logger.warn(`policy.routes unreadable for backtesting, keeping the last ones: ${problems}`);
    }
  }
}
