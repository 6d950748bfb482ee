import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AssessmentLog } from './assessment-log.service';
import { Inbox } from './inbox.service';
import { ProfileService } from './profile.service';
import { RetentionService } from './retention.service';
import { RISK_DB, RISK_ENTITIES } from './risk.data-source';
import { Transactions } from './transactions';

@Module({
  imports: [TypeOrmModule.forFeature(RISK_ENTITIES, RISK_DB)],
  providers: [ProfileService, AssessmentLog, Inbox, Transactions, RetentionService],
  exports: [ProfileService, AssessmentLog, Inbox, Transactions, RetentionService],
})
export class ProfilesModule {}
