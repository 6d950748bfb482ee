import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { TOPICS, type ChallengeOutcome } from '@stepgate/contracts';
import { ValidPayload } from '@stepgate/kafka';
import { AssessmentService } from '../assessments/assessment.service';

@Controller()
export class ChallengeOutcomeMessageController {
  constructor(private readonly assessments: AssessmentService) {}

  @EventPattern(TOPICS.challengeOutcome)
  async onOutcome(@ValidPayload(TOPICS.challengeOutcome) outcome: ChallengeOutcome): Promise<void> {
    await this.assessments.onChallengeOutcome(outcome);
  }
}
