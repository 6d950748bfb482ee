import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { AssessmentService } from './assessment.service';
import { geoLookupProvider } from './geo.lookup';

@Module({
  imports: [ProfilesModule, HealthModule],
  providers: [AssessmentService, geoLookupProvider],
  exports: [AssessmentService],
})
export class AssessmentsModule {}
