// The gateway's synchronous question over HTTP (adr/0016-direct-risk-path): the contract of
// stepgate.risk.assess.v2 on Kafka, answered by the same scoring method, without a consumer group between the
// gateway and an answer. Read-only like its Kafka twin: risk learns from access events, never from a
// question. The caller is checked first (GatewayCallerGuard), then the body; what fails either is a 401 or a
// 400 with the reason.
import { Body, Controller, HttpCode, Post, UseFilters, UseGuards } from '@nestjs/common';
import {
  ASSESS_RISK_HTTP_PATH,
  assessRiskRequest,
  describeIssues,
  type RiskAssessment,
} from '@stepgate/contracts';
import { DomainError, HttpExceptionFilter } from '@stepgate/observability';
import { AssessmentService } from './assessment.service';
import { DirectAssessmentMetrics } from './direct-assessment.metrics';
import { GatewayCallerGuard } from './gateway-caller.guard';

@Controller()
@UseFilters(HttpExceptionFilter)
@UseGuards(GatewayCallerGuard)
export class AssessmentsHttpController {
  constructor(
    private readonly assessments: AssessmentService,
    private readonly metrics: DirectAssessmentMetrics,
  ) {}

  @Post(ASSESS_RISK_HTTP_PATH)
  @HttpCode(200)
  async assess(@Body() body: unknown): Promise<RiskAssessment> {
    const parsed = assessRiskRequest.safeParse(body);
    if (!parsed.success) {
      this.metrics.count('invalid');
      throw new DomainError('invalid_request', describeIssues(parsed.error), 400);
    }
    try {
      const assessment = await this.assessments.assess(parsed.data);
      this.metrics.count('answered');
      return assessment;
    } catch (err) {
      this.metrics.count('failed');
      throw err;
    }
  }
}
