import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AssessmentLogService } from './assessment-log.service';
import { InboxService } from './inbox.service';
import { ProfileReader } from './profile.reader';
import { ProfileWriter } from './profile.writer';
import { RetentionService } from './retention.service';
import { RISK_DB, RISK_ENTITIES } from '../database/risk.data-source';
import { Transactions } from '../database/transactions';

@Module({
  imports: [TypeOrmModule.forFeature(RISK_ENTITIES, RISK_DB)],
  providers: [
    ProfileReader,
    ProfileWriter,
    AssessmentLogService,
    InboxService,
    Transactions,
    RetentionService,
  ],
  exports: [ProfileReader, ProfileWriter, AssessmentLogService, InboxService, Transactions, RetentionService],
})
export class ProfilesModule {}
