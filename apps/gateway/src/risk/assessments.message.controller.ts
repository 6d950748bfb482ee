// Newer assessments from risk invalidate the gateway's cached decisions for that subject and device (those
// that disagree with the newer one).
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { TOPICS, type RiskAssessment } from '@stepgate/contracts';
import { ValidPayload } from '@stepgate/kafka';
import { GatewayMetrics } from '../health/gateway.metrics';
import { RiskClient } from './risk.client';

@Controller()
export class AssessmentsMessageController {
  constructor(
    private readonly risk: RiskClient,
    private readonly metrics: GatewayMetrics,
  ) {}

  @EventPattern(TOPICS.riskAssessment)
  onAssessment(@ValidPayload(TOPICS.riskAssessment) assessment: RiskAssessment): void {
    const { dropped, kept } = this.risk.cache.invalidate(assessment.subject, assessment.deviceId, assessment);
    if (dropped > 0) this.metrics.riskCacheInvalidations.inc({ result: 'dropped' }, dropped);
    if (kept > 0) this.metrics.riskCacheInvalidations.inc({ result: 'kept' }, kept);
  }
}
