// The route policy in force: routes, their decisions, requirements and fail modes, and the acr levels. The
// gateway starts on the config file's `policy:` and then follows the policy versions risk publishes on the
// compacted stepgate.policy.v1 topic (a file edit or an admin change becomes a version there), swapping each
// newer valid one in atomically, without a restart. A version that does not validate, or that names an
// upstream this gateway was not started with, is logged, counted and ignored: the old policy stays.
import { createHash } from 'node:crypto';
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { describeIssues, isNewer, TOPICS, type PolicyVersion } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';
import { routePolicyIssues, routePolicySection, type RoutePolicySection } from '@stepgate/policy';
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

export class GatewayPolicy implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(GatewayPolicy.name);
  private active: ActiveRoutes;
  private unfollow: (() => Promise<void>) | null = null;
  /** The published version in force (null: the config file's). */
  private inForce: PolicyVersion | null = null;
  private readonly listeners = new Set<(routes: ActiveRoutes) => void>();

  constructor(
    private readonly started: GatewayConfig,
    private readonly bus: MessageBus,
    private readonly metrics: GatewayMetrics,
  ) {
    this.active = activeRoutesOf(started.policy);
    this.showVersion();
  }

  /** The policy to use now. Read it once per request, so one decision never mixes two policies. */
  get current(): ActiveRoutes {
    return this.active;
  }

  /** Called after each newer version takes effect. */
  onChange(listener: (routes: ActiveRoutes) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async onModuleInit(): Promise<void> {
    this.logger.log(`route policy from the config file (${this.active.hash}) in force`);
    this.unfollow = await this.bus.follow(TOPICS.policyVersion, (v) => {
      this.apply(v);
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.unfollow?.();
  }

  /** Applies a published version if it is newer than the one in force and valid here; true when it took effect. */
  apply(published: PolicyVersion): boolean {
    if (!isNewer(published, this.inForce)) return false;
    const parsed = routePolicySection.safeParse(published.document.policy);
    if (!parsed.success) return this.reject(published.version, describeIssues(parsed.error));
    const issues = routePolicyIssues(parsed.data, Object.keys(this.started.gateway.upstreams));
    if (issues.length > 0) {
      const problems = issues.map((i) => `policy.${i.path.join('.')}: ${i.message}`).join('; ');
      // Upstreams are read at start: a route naming a new one waits for a restart with it configured.
      return this.reject(published.version, `${problems} (a new upstream needs a restart)`);
    }
    const previous = this.active;
    this.inForce = published;
    this.active = activeRoutesOf(parsed.data, published.version);
    this.showVersion();
    this.metrics.policyReloads.inc({ result: 'applied' });
    this.logger.log(
      `route policy ${previous.version ?? 'file'} -> ${published.version} (${this.active.hash}) in force, ` +
        `by ${published.author}`,
    );
    for (const listener of this.listeners) listener(this.active);
    return true;
  }

  private showVersion(): void {
    this.metrics.policyVersion.reset();
    this.metrics.policyVersion.set(
      { version: String(this.active.version ?? 'file'), hash: this.active.hash },
      1,
    );
  }

  private reject(version: number, problems: string): false {
    this.metrics.policyReloads.inc({ result: 'rejected' });
    this.logger.error(
      `policy version ${version} rejected, keeping ${this.active.version ?? 'the file'}: ${problems}`,
    );
    return false;
  }
}
