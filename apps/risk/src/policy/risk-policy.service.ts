// The policy in force: weights, model, thresholds, windows, lists and retention, and the routes' decisions
// (for backtesting). Risk starts on the config file's and then follows the policy versions on the compacted
// stepgate.policy.v1 topic (PolicyVersions records and publishes them), swapping each newer valid one in
// atomically. A version that does not validate is logged and ignored: the old policy stays. http, admin,
// kafka and reload are read at start only.
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ConfigError, type RuntimeEnv } from '@stepgate/config';
import { isNewer, TOPICS, type PolicyVersion } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';
import type { LearningPolicy } from '../assessments/learning';
import {
  loadRoutesView,
  policyVersionOf,
  scoringPolicyOf,
  type RiskConfig,
  type RouteView,
  type RoutesView,
} from '../config';
import { MODEL_NAME, RiskModel } from '@stepgate/risk-scoring';
import type { ScoringPolicy } from '@stepgate/risk-scoring';
import { riskViewOf } from './policy-document';

export interface ActivePolicy {
  readonly config: RiskConfig;
  readonly scoring: ScoringPolicy;
  readonly model: RiskModel;
  /** `lr-2/cfg-<hash>`: the model and the config it scores with; stamped on every assessment. */
  readonly version: string;
  /** The published policy version in force; null while risk runs on the config file's at start. */
  readonly policyVersion: number | null;
  /** The routes and acr levels of the same version: what an access teaches depends on them. */
  readonly learning: LearningPolicy;
}

const NO_ROUTES: RoutesView = { routes: [], acrLevels: [] };

export function activePolicyOf(
  config: RiskConfig,
  routes: RoutesView = NO_ROUTES,
  policyVersion: number | null = null,
): ActivePolicy {
  const scoring = scoringPolicyOf(config);
  const version = `${MODEL_NAME}/cfg-${policyVersionOf(config)}`;
  const learning = { routes: new Map(routes.routes.map((r) => [r.id, r])), acrLevels: routes.acrLevels };
  return { config, scoring, model: new RiskModel(scoring, version), version, policyVersion, learning };
}

export class RiskPolicy implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RiskPolicy.name);
  private active: ActivePolicy;
  private unfollow: (() => Promise<void>) | null = null;
  /** The published version in force (null: the config file's). */
  private inForce: PolicyVersion | null = null;
  private readonly listeners = new Set<(policy: ActivePolicy) => void>();

  constructor(
    private readonly started: RiskConfig,
    runtime: Pick<RuntimeEnv, 'configFile' | 'env'>,
    private readonly bus: MessageBus | null,
  ) {
    let routes = NO_ROUTES;
    try {
      routes = loadRoutesView(runtime);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      // Without routes nothing is learned (no access is on a route the policy knows) and nothing backtests.
      this.logger.warn(`policy.routes unreadable until a version arrives, nothing is learned: ${problems}`);
    }
    this.active = activePolicyOf(started, routes);
  }

  /** What each route asks for at each risk level, from the policy in force: for backtesting. */
  get routes(): readonly RouteView[] {
    return [...this.active.learning.routes.values()];
  }

  /** The policy to use now. Read it once per unit of work, so one assessment never mixes two policies. */
  get current(): ActivePolicy {
    return this.active;
  }

  onChange(listener: (policy: ActivePolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async onModuleInit(): Promise<void> {
    this.logger.log(`risk policy ${this.active.version} from the config file in force`);
    this.unfollow =
      (await this.bus?.follow(TOPICS.policyVersion, (v) => {
        this.apply(v);
      })) ?? null;
  }

  async onModuleDestroy(): Promise<void> {
    await this.unfollow?.();
  }

  /** Applies a published version if it is newer than the one in force and valid; true when it took effect. */
  apply(published: PolicyVersion): boolean {
    const inForce = this.active.policyVersion;
    if (!isNewer(published, this.inForce)) return false;
    const view = riskViewOf(published.document, this.started);
    if (!view.ok) {
      this.logger.error(
        `policy version ${published.version} rejected, keeping ${inForce ?? 'the file'}: ${view.problems.join('; ')}`,
      );
      return false;
    }
    const previous = this.active;
    this.inForce = published;
    this.active = activePolicyOf(view.config, view, published.version);
    this.logger.log(
      `policy version ${inForce ?? 'file'} -> ${published.version} in force ` +
        `(${previous.version} -> ${this.active.version}), by ${published.author}`,
    );
    for (const listener of this.listeners) listener(this.active);
    return true;
  }
}
