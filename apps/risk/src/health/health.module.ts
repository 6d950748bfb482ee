import { Module } from '@nestjs/common';
import { HealthHttpController } from './health.http.controller';
import { MetricsHttpController } from './metrics.http.controller';
import { RiskMetrics } from './risk.metrics';

@Module({
  controllers: [HealthHttpController, MetricsHttpController],
  providers: [RiskMetrics],
  exports: [RiskMetrics],
})
export class HealthModule {}
