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
    // Applied first: applying is idempotent, so if dead-lettering fails the redelivery only re-applies;
    // the other way round, a failing apply would publish the same dead letters on every retry.
    await this.assessments.onAccessBatch(batch.events);
    await this.deadLetters.publish(batch.rejected);
  }
}
