import { Controller, Get, Header } from '@nestjs/common';
import { GatewayMetrics } from './gateway.metrics';

@Controller('.stepgate')
export class HealthHttpController {
  constructor(private readonly metrics: GatewayMetrics) {}

  @Get('healthz')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4')
  async prometheus(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
