// The route policy in force: routes, their decisions, requirements and fail modes, and the acr levels. The
// gateway starts on the config file's `policy:` and then follows the policy versions risk publishes on the
// compacted stepgate.policy.v1 topic (a file edit or an admin change becomes a version there) with the
// PolicyFollower risk uses too, swapping each newer valid one in atomically, without a restart. A version that
// does not validate, or that names an upstream this gateway was not started with, is logged, counted and
// ignored: the old policy stays.
import { createHash } from 'node:crypto';
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { describeIssues, type PolicyVersion } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';
import {
  PolicyFollower,
  routePolicyIssues,
  routePolicySection,
  type Adoption,
  type RoutePolicySection,
} from '@stepgate/policy';
import type { GatewayConfig } from '../config';
import type { GatewayMetrics } from '../health/gateway.metrics';
import { compileRoutes, type CompiledRoute } from './route-matcher';

export interface ActiveRoutes {
  readonly routes: readonly CompiledRoute[];
  readonly acrLevels: readonly string[];
  /** The policy version in force; null while the gateway runs on the config file's policy at start. */
  readonly version: number | null;
  /** A hash of the policy section: equal hashes, equal route policies, whatever their versions. */
  readonly hash: string;
}

export function activeRoutesOf(policy: RoutePolicySection, version: number | null = null): ActiveRoutes {
  return {
    routes: compileRoutes(policy.routes),
    acrLevels: policy.acr.levels,
    version,
    hash: createHash('sha256').update(JSON.stringify(policy)).digest('hex').slice(0, 12),
  };
}

export class GatewayPolicyService implements OnModuleInit, OnModuleDestroy {
  private readonly follower: PolicyFollower<ActiveRoutes>;

  constructor(
    private readonly started: GatewayConfig,
    private readonly bus: MessageBus,
    private readonly metrics: GatewayMetrics,
  ) {
    this.follower = new PolicyFollower({
      initial: activeRoutesOf(started.policy),
      adopt: (published) => this.adopt(published),
      describe: (routes) => routes.hash,
      logger: new Logger(GatewayPolicyService.name),
      onRejected: () => this.metrics.policyReloads.inc({ result: 'rejected' }),
    });
    this.follower.onChange(() => {
      this.showVersion();
      this.metrics.policyReloads.inc({ result: 'applied' });
    });
    this.showVersion();
  }

  /** The policy to use now. Read it once per request, so one decision never mixes two policies. */
  get current(): ActiveRoutes {
    return this.follower.current;
  }

  /** Called after each newer version takes effect. */
  onChange(listener: (routes: ActiveRoutes) => void): () => void {
    return this.follower.onChange(listener);
  }

  async onModuleInit(): Promise<void> {
    await this.follower.follow(this.bus);
  }

  async onModuleDestroy(): Promise<void> {
    await this.follower.stop();
  }

  /** Applies a published version if it is newer than the one in force and valid here; true when it took effect. */
  apply(published: PolicyVersion): boolean {
    return this.follower.apply(published);
  }

  private adopt(published: PolicyVersion): Adoption<ActiveRoutes> {
    const parsed = routePolicySection.safeParse(published.document.policy);
    if (!parsed.success) return { ok: false, problems: describeIssues(parsed.error) };
    const issues = routePolicyIssues(parsed.data, Object.keys(this.started.gateway.upstreams));
    if (issues.length > 0) {
      const problems = issues.map((i) => `policy.${i.path.join('.')}: ${i.message}`).join('; ');
      // Upstreams are read at start: a route naming a new one waits for a restart with it configured.
      return { ok: false, problems: `${problems} (a new upstream needs a restart)` };
    }
    return { ok: true, active: activeRoutesOf(parsed.data, published.version) };
  }

  private showVersion(): void {
    this.metrics.policyVersion.reset();
    this.metrics.policyVersion.set(
      { version: String(this.current.version ?? 'file'), hash: this.current.hash },
      1,
    );
  }
}
