// The gateway's synchronous question over HTTP (adr/0016-direct-risk-path): the contract of
// stepgate.risk.assess.v2 on Kafka, answered by the same scoring method, without a consumer group between the
// gateway and an answer. Read-only like its Kafka twin: risk learns from access events, never from a
// question. The caller is checked first (GatewayCallerGuard), then the body; what fails either is a 401 or a
// 400 with the reason.
import { Body, Controller, HttpCode, Injectable, Post, UseFilters, UseGuards } from '@nestjs/common';
import {
  ASSESS_RISK_HTTP_PATH,
  type AssessRiskRequest,
  assessRiskRequest,
  describeIssues,
  type RiskAssessment,
} from '@stepgate/contracts';
import { HttpErrorsFilter, InvalidRequest, ZodBody } from '@stepgate/observability';
import { AssessmentService } from './assessment.service';
import { DirectAssessmentMetrics } from './direct-assessment.metrics';
import { GatewayCallerGuard } from './gateway-caller.guard';

/** The question, validated; a refused one is counted. */
@Injectable()
export class AssessRiskBody extends ZodBody<typeof assessRiskRequest> {
  constructor(metrics: DirectAssessmentMetrics) {
    super(assessRiskRequest, (error) => {
      metrics.count('invalid');
      return new InvalidRequest(describeIssues(error));
    });
  }
}

@Controller()
@UseFilters(new HttpErrorsFilter())
@UseGuards(GatewayCallerGuard)
export class AssessmentsHttpController {
  constructor(
    private readonly assessments: AssessmentService,
    private readonly metrics: DirectAssessmentMetrics,
  ) {}

  @Post(ASSESS_RISK_HTTP_PATH)
  @HttpCode(200)
  async assess(@Body(AssessRiskBody) request: AssessRiskRequest): Promise<RiskAssessment> {
    try {
      const assessment = await this.assessments.assess(request);
      this.metrics.count('answered');
      return assessment;
    } catch (err) {
      this.metrics.count('failed');
      throw err;
    }
  }
}
