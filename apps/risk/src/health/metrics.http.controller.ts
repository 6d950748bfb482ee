import { Controller, Get, Res, UseFilters } from '@nestjs/common';
import { BusMetrics } from '@stepgate/kafka';
import { HttpErrorsFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { RiskMetrics } from './risk.metrics';

@Controller()
@UseFilters(new HttpErrorsFilter())
export class MetricsHttpController {
  constructor(
    private readonly metrics: RiskMetrics,
    bus: BusMetrics,
  ) {
    // The consumer's own (dead letters, redelivery, offset resets, lag, crashes), under risk's service label.
    bus.registerIn(metrics.registry);
  }

  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.header('content-type', this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
