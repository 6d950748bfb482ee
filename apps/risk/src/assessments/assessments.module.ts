import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { AssessmentService } from './assessment.service';
import { AssessmentsHttpController } from './assessments.http.controller';
import { DirectAssessmentMetrics } from './direct-assessment.metrics';
import { GatewayCallerGuard } from './gateway-caller.guard';
import { geoLookupProvider } from './geo.lookup';

@Module({
  imports: [ProfilesModule, HealthModule],
  controllers: [AssessmentsHttpController],
  providers: [AssessmentService, geoLookupProvider, DirectAssessmentMetrics, GatewayCallerGuard],
  exports: [AssessmentService],
})
export class AssessmentsModule {}
