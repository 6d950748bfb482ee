import { Controller, Get, Res, UseFilters } from '@nestjs/common';
import { HttpExceptionFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { RiskMetrics } from './risk.metrics';

@Controller()
@UseFilters(HttpExceptionFilter)
export class MetricsHttpController {
  constructor(private readonly metrics: RiskMetrics) {}

  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.header('content-type', this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
