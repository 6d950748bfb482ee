import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PolicyModule } from '../policy/policy.module';
import { AssessmentEntity } from '../profiles/assessment.entity';
import { RISK_DB } from '../database/risk.data-source';
import { ConsoleHttpController } from './console.http.controller';
import { ConsoleService } from './console.service';

@Module({
  imports: [TypeOrmModule.forFeature([AssessmentEntity], RISK_DB), PolicyModule],
  controllers: [ConsoleHttpController],
  providers: [ConsoleService],
})
export class ConsoleModule {}
