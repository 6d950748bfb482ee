import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { ValidPayload } from '@stepgate/kafka';
import { AssessmentService } from '../assessments/assessment.service';

@Controller()
export class AccessMessageController {
  constructor(private readonly assessments: AssessmentService) {}

  @EventPattern(TOPICS.access)
  async onAccess(@ValidPayload(TOPICS.access) event: AccessEvent): Promise<void> {
    await this.assessments.onAccess(event);
  }
}
