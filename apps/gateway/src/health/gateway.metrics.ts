import { Injectable } from '@nestjs/common';
import { createMetricsRegistry } from '@stepgate/observability';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

@Injectable()
export class GatewayMetrics {
  readonly registry: Registry = createMetricsRegistry('gateway');
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
  readonly riskLatency = new Histogram({
    name: 'stepgate_gateway_risk_request_seconds',
    help: 'Latency of synchronous risk requests',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly accessEvents = new Counter({
    name: 'stepgate_gateway_access_events_total',
    help: 'Access events by result (published, failed, dropped)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly eventBuffer = new Gauge({
    name: 'stepgate_gateway_access_events_in_flight',
    help: 'Access events accepted and not yet acknowledged by the broker',
    registers: [this.registry],
  });
}
