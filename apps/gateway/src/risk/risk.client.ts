// Gets a risk assessment for a request: from the cache (only for exactly the inputs risk scored), else
// synchronously from risk within a budget.
import { Inject, Injectable } from '@nestjs/common';
import { REQUESTS, type RiskAssessment } from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { GatewayMetrics } from '../health/gateway.metrics';
import { GatewayPolicy } from '../policy/gateway-policy.service';
import { RiskDecisionCache, type ScoredInputs } from './risk-decision.cache';

export interface RiskContext extends ScoredInputs {
  correlationId: string;
}

@Injectable()
export class RiskClient {
  readonly cache: RiskDecisionCache;

  constructor(
    private readonly bus: MessageBus,
    private readonly metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    policy: GatewayPolicy,
  ) {
    this.cache = new RiskDecisionCache(config.gateway.risk.cacheTtlSeconds * 1000);
    // A new version may move thresholds or weights: levels cached under the old one are not reused.
    policy.onChange(() => this.cache.clear());
  }

  /** The assessment, or null when risk did not answer in time (the route's fail mode then decides). */
  async assess(ctx: RiskContext): Promise<RiskAssessment | null> {
    // What risk sees is what the cache is keyed by: the same truncation for both.
    const inputs: ScoredInputs = {
      subject: ctx.subject,
      deviceId: ctx.deviceId,
      deviceSource: ctx.deviceSource,
      clientIp: ctx.clientIp,
      userAgent: ctx.userAgent.slice(0, 1024),
      route: ctx.route,
    };
    const cached = this.cache.get(inputs);
    if (cached) {
      this.metrics.riskLookups.inc({ source: 'cache' });
      this.metrics.riskCache.inc({ result: 'hit' });
      return cached;
    }
    this.metrics.riskCache.inc({ result: 'miss' });
    const stop = this.metrics.riskLatency.startTimer();
    try {
      const assessment = await this.bus.request(
        REQUESTS.assessRisk,
        { correlationId: ctx.correlationId, ...inputs },
        this.config.gateway.risk.timeoutMs,
      );
      this.cache.set(inputs, assessment);
      this.metrics.riskLookups.inc({ source: 'risk' });
      return assessment;
    } catch {
      this.metrics.riskLookups.inc({ source: 'unavailable' });
      return null;
    } finally {
      stop();
    }
  }
}
