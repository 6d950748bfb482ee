// The policy in force: weights, model, thresholds, windows, lists and retention, and the routes' decisions
// (for backtesting). Risk starts on the config file's and then follows the policy versions on the compacted
// stepgate.policy.v1 topic (PolicyVersionsService records and publishes them) with the PolicyFollower the gateway
// uses too, swapping each newer valid one in atomically. A version that does not validate is logged and
// ignored: the old policy stays. http, admin, kafka and reload are read at start only.
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ConfigError, type RuntimeEnv } from '@stepgate/config';
import type { PolicyVersion } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';
import {
  loadRoutesView,
  PolicyFollower,
  policyVersionOf,
  riskViewOf,
  scoringSettingsOf,
  type Adoption,
  type RouteView,
  type RoutesView,
} from '@stepgate/policy';
import type { LearningPolicyView } from '../assessments/learning';
import type { RiskConfig } from '../config';
import { MODEL_NAME, RiskModel } from '@stepgate/risk-scoring';
import type { ScoringSettings } from '@stepgate/risk-scoring';

export interface RiskPolicyInForce {
  readonly config: RiskConfig;
  readonly scoring: ScoringSettings;
  readonly model: RiskModel;
  /** `lr-2/cfg-<hash>`: the model and the config it scores with; stamped on every assessment. */
  readonly version: string;
  /** The published policy version in force; null while risk runs on the config file's at start. */
  readonly policyVersion: number | null;
  /** The routes and acr levels of the same version: what an access teaches depends on them. */
  readonly learning: LearningPolicyView;
}

const NO_ROUTES: RoutesView = { routes: [], acrLevels: [] };

export function policyInForceOf(
  config: RiskConfig,
  routes: RoutesView = NO_ROUTES,
  policyVersion: number | null = null,
): RiskPolicyInForce {
  const scoring = scoringSettingsOf(config);
  const version = `${MODEL_NAME}/cfg-${policyVersionOf(config)}`;
  const learning = { routes: new Map(routes.routes.map((r) => [r.id, r])), acrLevels: routes.acrLevels };
  return { config, scoring, model: new RiskModel(scoring, version), version, policyVersion, learning };
}

export class RiskPolicyService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RiskPolicyService.name);
  private readonly follower: PolicyFollower<RiskPolicyInForce>;

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
    this.follower = new PolicyFollower({
      initial: policyInForceOf(started, routes),
      adopt: (published) => this.adopt(published),
      describe: (policy) => policy.version,
      logger: this.logger,
    });
  }

  /** What each route asks for at each risk level, from the policy in force: for backtesting. */
  get routes(): readonly RouteView[] {
    return [...this.current.learning.routes.values()];
  }

  /** The policy to use now. Read it once per unit of work, so one assessment never mixes two policies. */
  get current(): RiskPolicyInForce {
    return this.follower.current;
  }

  onChange(listener: (policy: RiskPolicyInForce) => void): () => void {
    return this.follower.onChange(listener);
  }

  async onModuleInit(): Promise<void> {
    if (this.bus) await this.follower.follow(this.bus);
  }

  async onModuleDestroy(): Promise<void> {
    await this.follower.stop();
  }

  /** Applies a published version if it is newer than the one in force and valid; true when it took effect. */
  apply(published: PolicyVersion): boolean {
    return this.follower.apply(published);
  }

  private adopt(published: PolicyVersion): Adoption<RiskPolicyInForce> {
    const view = riskViewOf(published.document, this.started);
    if (!view.ok) return { ok: false, problems: view.problems.join('; ') };
    return { ok: true, active: policyInForceOf(view.config, view, published.version) };
  }
}
