import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { REQUESTS, type AssessRiskRequest, type RiskAssessment } from '@stepgate/contracts';
import { ValidPayload } from '@stepgate/kafka';
import { RpcErrorsFilter } from '@stepgate/observability';
import { AssessmentService } from '../assessments/assessment.service';

@Controller()
@UseFilters(new RpcErrorsFilter())
export class AssessMessageController {
  constructor(private readonly assessments: AssessmentService) {}

  @MessagePattern(REQUESTS.assessRisk)
  assess(@ValidPayload(REQUESTS.assessRisk) request: AssessRiskRequest): Promise<RiskAssessment> {
    return this.assessments.assess(request);
  }
}
