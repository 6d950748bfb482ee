// The synchronous risk path's own metrics, in the gateway's registry: what was sent to risk on which path and
// what came of it, and how each cache miss was resolved. stepgate_gateway_risk_lookups_total (by source:
// cache, risk, unavailable) still counts what every lookup got.
import { Counter, type Registry } from 'prom-client';
import type { RiskFailure, RiskPath } from './risk.transport';

export type MissOutcome = 'requested' | 'coalesced' | 'negative_cache';

export class RiskPathMetrics {
  readonly requests: Counter<'path' | 'result'>;
  readonly misses: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'stepgate_gateway_risk_requests_total',
      help:
        'Requests sent to risk, by path (direct, kafka, in_process) and result (answered, timeout, ' +
        'unreachable, refused, invalid, failed)',
      labelNames: ['path', 'result'] as const,
      registers: [registry],
    });
    this.misses = new Counter({
      name: 'stepgate_gateway_risk_misses_total',
      help:
        'Risk decision cache misses by outcome: requested (asked risk), coalesced (waited for the same ' +
        "context's request in flight), negative_cache (risk just did not answer for it: not asked again)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
  }

  request(path: RiskPath, result: RiskFailure | 'answered'): void {
    this.requests.inc({ path, result });
  }

  miss(outcome: MissOutcome): void {
    this.misses.inc({ outcome });
  }
}
