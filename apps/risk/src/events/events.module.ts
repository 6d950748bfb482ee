import { Module } from '@nestjs/common';
import { AssessmentsModule } from '../assessments/assessments.module';
import { AccessMessageController } from './access.message.controller';
import { AssessMessageController } from './assess.message.controller';
import { ChallengeOutcomeMessageController } from './challenge-outcome.message.controller';

@Module({
  imports: [AssessmentsModule],
  controllers: [AccessMessageController, ChallengeOutcomeMessageController, AssessMessageController],
})
export class EventsModule {}
