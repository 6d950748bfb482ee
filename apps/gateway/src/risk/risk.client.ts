// Gets a risk assessment for a request: from the cache, else synchronously from risk within a budget.
import { Inject, Injectable } from '@nestjs/common';
import { REQUESTS, type RiskAssessment } from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { GatewayMetrics } from '../health/gateway.metrics';
import { RiskDecisionCache } from './risk-decision.cache';

export interface RiskContext {
  correlationId: string;
  subject: string;
  deviceId: string | null;
  clientIp: string;
  userAgent: string;
  route: string;
}

@Injectable()
export class RiskClient {
  readonly cache: RiskDecisionCache;

  constructor(
    private readonly bus: MessageBus,
    private readonly metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.cache = new RiskDecisionCache(config.gateway.risk.cacheTtlSeconds * 1000);
  }

  /** The assessment, or null when risk did not answer in time (the route's fail mode then decides). */
  async assess(ctx: RiskContext): Promise<RiskAssessment | null> {
    const key = RiskDecisionCache.key(ctx.subject, ctx.deviceId, ctx.clientIp, ctx.route);
    const cached = this.cache.get(key);
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
        {
          correlationId: ctx.correlationId,
          subject: ctx.subject,
          deviceId: ctx.deviceId,
          clientIp: ctx.clientIp,
          userAgent: ctx.userAgent.slice(0, 1024),
          route: ctx.route,
        },
        this.config.gateway.risk.timeoutMs,
      );
      this.cache.set(key, assessment);
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
