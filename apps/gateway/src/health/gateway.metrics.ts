import { Injectable } from '@nestjs/common';
import { createMetricsRegistry } from '@stepgate/observability';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

@Injectable()
export class GatewayMetrics {
  readonly registry: Registry = createMetricsRegistry('gateway');
  readonly policyVersion = new Gauge({
    name: 'stepgate_gateway_policy_info',
    help: 'The route policy in force (1 for its version, "file" before the first published one, and its hash)',
    labelNames: ['version', 'hash'] as const,
    registers: [this.registry],
  });
  readonly policyReloads = new Counter({
    name: 'stepgate_gateway_policy_reloads_total',
    help: 'Published policy versions this gateway applied or rejected',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'stepgate_gateway_requests_total',
    help: 'Requests by route and decision',
    labelNames: ['route', 'decision'] as const,
    registers: [this.registry],
  });
  readonly stepUps = new Counter({
    name: 'stepgate_gateway_step_ups_total',
    help: 'Step-up challenges issued, by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly riskLookups = new Counter({
    name: 'stepgate_gateway_risk_lookups_total',
    help: 'Risk decisions by source (cache, risk, unavailable)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly riskCache = new Counter({
    name: 'stepgate_gateway_risk_cache_lookups_total',
    help: 'Risk decision cache lookups by result (hit, miss)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly decisionChanges = new Counter({
    name: 'stepgate_gateway_decision_changes_total',
    help: 'Decision changes consumed from risk, by cause (access, challenge_outcome): what this instance reads to keep its cache true',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });
  readonly riskCacheInvalidations = new Counter({
    name: 'stepgate_gateway_risk_cache_invalidations_total',
    help: 'Cached decisions a decision change dropped (another level) or kept (the same level)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly riskCacheHitRatio = new Gauge({
    name: 'stepgate_gateway_risk_cache_hit_ratio',
    help: 'Share of risk decision cache lookups answered from the cache since start',
    registers: [this.registry],
    collect: async () => {
      const values = (await this.riskCache.get()).values;
      const hits = values.find((v) => v.labels.result === 'hit')?.value ?? 0;
      const total = values.reduce((sum, v) => sum + v.value, 0);
      this.riskCacheHitRatio.set(total === 0 ? 0 : hits / total);
    },
  });
  readonly monitored = new Counter({
    name: 'stepgate_gateway_monitor_would_have_total',
    help: 'Requests a monitor-mode route forwarded that enforcement would have denied or stepped up',
    labelNames: ['route', 'decision'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'stepgate_gateway_request_seconds',
    help: 'Time to the gateway decision and, for forwarded requests, the upstream response headers',
    labelNames: ['decision'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly riskLatency = new Histogram({
    name: 'stepgate_gateway_risk_request_seconds',
    help: 'Latency of synchronous risk requests',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly accessEvents = new Counter({
    name: 'stepgate_gateway_access_events_total',
    help:
      'Access events by result: published (acknowledged by Kafka, directly or from the spill file), spilled ' +
      '(written to the spill file), failed (a batch Kafka refused after the producer retries; then spilled), ' +
      'dropped (lost: the spill file full or unavailable), invalid (refused: broke the access event contract)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly eventBuffer = new Gauge({
    name: 'stepgate_gateway_access_events_in_flight',
    help: 'Access events held in memory: buffered or sent to Kafka and not yet acknowledged',
    registers: [this.registry],
  });
  readonly spillBytes = new Gauge({
    name: 'stepgate_gateway_access_spill_bytes',
    help: 'Bytes of access events in the spill file not yet published',
    registers: [this.registry],
  });
  readonly spillEvents = new Gauge({
    name: 'stepgate_gateway_access_spill_events',
    help: 'Access events in the spill file not yet published',
    registers: [this.registry],
  });
  readonly spillLimit = new Gauge({
    name: 'stepgate_gateway_access_spill_limit_bytes',
    help: 'The spill file bound (gateway.accessEvents.spill.maxBytes); 0 when there is no spill file',
    registers: [this.registry],
  });
  readonly spillCorrupt = new Counter({
    name: 'stepgate_gateway_access_spill_corrupt_records_total',
    help: 'Spill file records skipped because they were cut short or failed their checksum',
    registers: [this.registry],
  });
}
