// Newer assessments from risk invalidate the gateway's cached decisions for that subject and device.
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { TOPICS, type RiskAssessment } from '@stepgate/contracts';
import { ValidPayload } from '@stepgate/kafka';
import { RiskClient } from './risk.client';

@Controller()
export class AssessmentsMessageController {
  constructor(private readonly risk: RiskClient) {}

  @EventPattern(TOPICS.riskAssessment)
  onAssessment(@ValidPayload(TOPICS.riskAssessment) assessment: RiskAssessment): void {
    this.risk.cache.invalidate(assessment.subject, assessment.deviceId);
  }
}
