import { Controller } from '@nestjs/common';
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { BatchEventPattern, DeadLetters, ValidBatch, type ValidatedBatch } from '@stepgate/kafka';
import { AssessmentService } from '../assessments/assessment.service';

/** Access events arrive in batches (one per fetch): applied in one transaction, invalid ones dead-lettered. */
@Controller()
export class AccessMessageController {
  constructor(
    private readonly assessments: AssessmentService,
    private readonly deadLetters: DeadLetters,
  ) {}

  @BatchEventPattern(TOPICS.access)
  async onAccess(@ValidBatch(TOPICS.access) batch: ValidatedBatch<AccessEvent>): Promise<void> {
    await this.deadLetters.publish(batch.rejected);
    await this.assessments.onAccessBatch(batch.events);
  }
}
