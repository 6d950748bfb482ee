import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HealthModule } from '../health/health.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { RISK_DB } from '../database/risk.data-source';
import { PolicyStore } from './policy-store.service';
import { PolicyVersionRecord } from './policy-version.entity';
import { PolicyVersions } from './policy-versions.service';

/** Policy versions: stored, recorded from the file or the admin API, published to every instance. */
@Module({
  imports: [TypeOrmModule.forFeature([PolicyVersionRecord], RISK_DB), ProfilesModule, HealthModule],
  providers: [PolicyStore, PolicyVersions],
  exports: [PolicyStore, PolicyVersions],
})
export class PolicyModule {}
