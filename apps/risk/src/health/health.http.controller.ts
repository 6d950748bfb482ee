import { Controller, Get, Res, UseFilters } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ConsumerHealth } from '@stepgate/kafka';
import { HttpExceptionFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { RISK_DB } from '../profiles/risk.data-source';

@Controller()
@UseFilters(HttpExceptionFilter)
export class HealthHttpController {
  constructor(
    @InjectDataSource(RISK_DB) private readonly dataSource: DataSource,
    private readonly consumer: ConsumerHealth,
  ) {}

  /** Healthy when the database answers and the bus consumer runs: without them risk can neither score nor learn. */
  @Get('healthz')
  async health(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ status: string; reason?: string }> {
    if (!this.consumer.healthy) {
      void reply.status(503);
      return { status: 'unavailable', reason: 'the bus consumer crashed' };
    }
    try {
      await this.dataSource.query('SELECT 1');
      return { status: 'ok' };
    } catch {
      void reply.status(503);
      return { status: 'unavailable' };
    }
  }
}
