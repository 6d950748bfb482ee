import { Module } from '@nestjs/common';
import { ConsumerHealth } from './consumer-health';
import { HealthHttpController } from './health.http.controller';
import { MetricsHttpController } from './metrics.http.controller';
import { RiskMetrics } from './risk.metrics';

@Module({
  controllers: [HealthHttpController, MetricsHttpController],
  providers: [RiskMetrics, ConsumerHealth],
  exports: [RiskMetrics, ConsumerHealth],
})
export class HealthModule {}
