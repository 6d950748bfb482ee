// The route policy in force: routes, their decisions, requirements and fail modes, and the acr levels,
// swapped atomically when the config file changes (watchConfigFile), without a restart. A change that does
// not validate is logged and ignored: the old policy stays. The rest of the gateway section (listeners,
// issuers, upstreams, keys) is read at start only; a change to it is reported as needing a restart, and a
// route naming an upstream the running gateway does not have is refused.
import { createHash } from 'node:crypto';
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ConfigError, watchConfigFile, type ConfigWatch, type RuntimeEnv } from '@stepgate/config';
import { loadGatewayConfig, type GatewayConfig } from '../config';
import type { GatewayMetrics } from '../health/gateway.metrics';
import { compileRoutes, type CompiledRoute } from './route-matcher';

export interface ActiveRoutes {
  readonly routes: readonly CompiledRoute[];
  readonly acrLevels: readonly string[];
  /** A hash of the policy section: in the metrics and the logs, so every instance's version can be compared. */
  readonly version: string;
}

export function activeRoutesOf(policy: GatewayConfig['policy']): ActiveRoutes {
  return {
    routes: compileRoutes(policy.routes),
    acrLevels: policy.acr.levels,
    version: createHash('sha256').update(JSON.stringify(policy)).digest('hex').slice(0, 12),
  };
}

export class GatewayPolicy implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(GatewayPolicy.name);
  private active: ActiveRoutes;
  private watch: ConfigWatch | null = null;

  constructor(
    private readonly started: GatewayConfig,
    private readonly runtime: RuntimeEnv,
    private readonly metrics: GatewayMetrics,
  ) {
    this.active = activeRoutesOf(started.policy);
    this.metrics.policyVersion.set({ version: this.active.version }, 1);
  }

  /** The policy to use now. Read it once per request, so one decision never mixes two policies. */
  get current(): ActiveRoutes {
    return this.active;
  }

  onModuleInit(): void {
    this.logger.log(`route policy ${this.active.version} in force`);
    const { watch, debounceMs } = this.started.gateway.reload;
    if (watch) {
      this.watch = watchConfigFile(this.runtime.configFile, debounceMs, () => this.reload(), this.logger);
    }
  }

  onModuleDestroy(): void {
    this.watch?.close();
  }

  /** Re-reads the config file now; true when a new route policy took effect. Also what the watcher calls. */
  reload(): boolean {
    let next: GatewayConfig;
    try {
      next = loadGatewayConfig(this.runtime);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      return this.reject(problems);
    }
    const unknown = next.policy.routes
      .filter((r) => !(r.upstream in this.started.gateway.upstreams))
      .map((r) => `route ${r.id}: upstream "${r.upstream}" is new and needs a restart`);
    if (unknown.length > 0) return this.reject(unknown.join('; '));
    const { trustedProxies: _a, ...now } = next.gateway;
    const { trustedProxies: _b, ...then } = this.started.gateway;
    if (JSON.stringify(now) !== JSON.stringify(then)) {
      this.logger.warn(
        'the gateway section changed: it takes effect at the next restart (the policy applies now)',
      );
    }
    const candidate = activeRoutesOf(next.policy);
    const previous = this.active;
    if (candidate.version === previous.version) return false;
    this.active = candidate;
    this.metrics.policyVersion.reset();
    this.metrics.policyVersion.set({ version: candidate.version }, 1);
    this.metrics.policyReloads.inc({ result: 'applied' });
    this.logger.log(`route policy ${previous.version} -> ${candidate.version} in force`);
    return true;
  }

  private reject(problems: string): false {
    this.metrics.policyReloads.inc({ result: 'rejected' });
    this.logger.error(`config change rejected, keeping route policy ${this.active.version}: ${problems}`);
    return false;
  }
}
