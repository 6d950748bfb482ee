import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HealthModule } from '../health/health.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { RISK_DB } from '../database/risk.data-source';
import { PolicyStoreService } from './policy-store.service';
import { PolicyVersionEntity } from './policy-version.entity';
import { PolicyVersionsService } from './policy-versions.service';

/** Policy versions: stored, recorded from the file or the admin API, published to every instance. */
@Module({
  imports: [TypeOrmModule.forFeature([PolicyVersionEntity], RISK_DB), ProfilesModule, HealthModule],
  providers: [PolicyStoreService, PolicyVersionsService],
  exports: [PolicyStoreService, PolicyVersionsService],
})
export class PolicyModule {}
