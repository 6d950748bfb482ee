// What came of the assessments asked over HTTP (adr/0016-direct-risk-path), in risk's registry. Refusals show
// a caller that is misconfigured (another key, a JWKS risk cannot read) or one that should not be asking at
// all.
import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { RiskMetrics } from '../health/risk.metrics';

export type DirectAssessmentResult =
  'answered' | 'unauthenticated' | 'invalid' | 'keys_unavailable' | 'failed';

@Injectable()
export class DirectAssessmentMetrics {
  private readonly requests: Counter<'result'>;

  constructor(metrics: RiskMetrics) {
    this.requests = new Counter({
      name: 'stepgate_risk_direct_requests_total',
      help:
        'Assessments asked over HTTP, by result (answered, unauthenticated, invalid, keys_unavailable, failed); ' +
        'each answered one also counts in stepgate_risk_assessments_total{source="request"}',
      labelNames: ['result'] as const,
      registers: [metrics.registry],
    });
  }

  count(result: DirectAssessmentResult): void {
    this.requests.inc({ result });
  }
}
