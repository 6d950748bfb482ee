// Gets a risk assessment for a request: from the cache (only for exactly the inputs risk scored), else
// synchronously from risk within a budget, over the transport the deployment configured (risk.transport.ts).
// Concurrent misses for the same inputs share one request, and inputs risk just did not answer for are not
// asked again for a moment (the negative cache), so a burst on a cold or unanswered context costs risk one
// request, not one per client request.
import { Inject, Injectable } from '@nestjs/common';
import { assessRiskRequest, type RiskAssessment } from '@stepgate/contracts';
import { LRUCache } from 'lru-cache';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { GatewayMetrics } from '../health/gateway.metrics';
import { GatewayPolicyService } from '../policy/gateway-policy.service';
import { RiskDecisionCache, type ScoredInputs } from './risk-decision.cache';
import { RiskPathMetrics } from './risk.metrics';
import { checkedAnswer, RISK_TRANSPORT, RiskRequestError, type RiskTransport } from './risk.transport';

/**
 * What the client sent cannot be put to risk (a value the contract refuses): the request is denied, never left
 * to the route's fail mode, which may allow.
 */
export class UnassessableContext extends Error {}

export interface RiskContext extends ScoredInputs {
  correlationId: string;
}

@Injectable()
export class RiskClient {
  readonly cache: RiskDecisionCache;
  /** Requests in flight by cache key: a miss for the same inputs waits for the one already asked. */
  private readonly inFlight = new Map<string, Promise<RiskAssessment | null>>();
  /** Cache keys risk did not answer for, for gateway.risk.negativeCacheMs. */
  private readonly unanswered: LRUCache<string, true> | null;
  private readonly pathMetrics: RiskPathMetrics;
  /** Bumped by every policy version: an answer to a request made under an older one is not cached. */
  private generation = 0;

  constructor(
    @Inject(RISK_TRANSPORT) private readonly transport: RiskTransport,
    private readonly metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    policy: GatewayPolicyService,
  ) {
    const { cacheTtlSeconds, negativeCacheMs } = config.gateway.risk;
    this.cache = new RiskDecisionCache(cacheTtlSeconds * 1000);
    this.unanswered =
      negativeCacheMs === 0
        ? null
        : new LRUCache<string, true>({ max: 100_000, ttl: negativeCacheMs, ttlResolution: 0 });
    this.pathMetrics = new RiskPathMetrics(metrics.registry);
    // A new version may move thresholds or weights: levels cached under the old one are not reused.
    policy.onChange(() => {
      this.generation++;
      this.cache.clear();
      // Later misses ask afresh rather than join a request made under the old version.
      this.inFlight.clear();
      // A new version may change what risk answers (or whether): ask again rather than wait the entry out.
      this.unanswered?.clear();
    });
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
    // Checked before asking: refused by risk (or by the bus), it would read as "risk unavailable".
    const request = assessRiskRequest.safeParse({ correlationId: ctx.correlationId, ...inputs });
    if (!request.success) {
      this.metrics.riskLookups.inc({ source: 'unassessable' });
      const fields = [...new Set(request.error.issues.map((i) => i.path.join('.')))].join(', ');
      throw new UnassessableContext(`the request cannot be assessed (${fields})`);
    }
    const assessment = await this.answer(inputs, ctx.correlationId);
    this.metrics.riskLookups.inc({ source: assessment ? 'risk' : 'unavailable' });
    return assessment;
  }

  private answer(inputs: ScoredInputs, correlationId: string): Promise<RiskAssessment | null> {
    const key = RiskDecisionCache.key(inputs);
    if (this.unanswered?.has(key)) {
      this.pathMetrics.miss('negative_cache');
      return Promise.resolve(null);
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.pathMetrics.miss('coalesced');
      return pending;
    }
    this.pathMetrics.miss('requested');
    const request = this.request(key, inputs, correlationId).finally(() => {
      if (this.inFlight.get(key) === request) this.inFlight.delete(key);
    });
    this.inFlight.set(key, request);
    return request;
  }

  /** One request to risk; never rejects. */
  private async request(
    key: string,
    inputs: ScoredInputs,
    correlationId: string,
  ): Promise<RiskAssessment | null> {
    const generation = this.generation;
    const changes = this.cache.changesApplied;
    const stop = this.metrics.riskLatency.startTimer();
    try {
      // Checked whatever the transport (the direct client checks it too, on its own).
      const assessment = checkedAnswer(
        { correlationId, ...inputs },
        await this.transport.assess({ correlationId, ...inputs }, this.config.gateway.risk.timeoutMs),
      );
      this.pathMetrics.request(this.transport.path, 'answered');
      // Scored before a newer policy version or decision change reached this gateway: used, not kept.
      if (generation === this.generation && changes === this.cache.changesApplied)
        this.cache.set(inputs, assessment);
      return assessment;
    } catch (err) {
      this.pathMetrics.request(this.transport.path, err instanceof RiskRequestError ? err.failure : 'failed');
      this.unanswered?.set(key, true);
      return null;
    } finally {
      stop();
    }
  }
}
