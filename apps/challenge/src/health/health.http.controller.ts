import { Controller, Get, Res, ServiceUnavailableException, UseFilters } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ConsumerHealth } from '@stepgate/kafka';
import { HttpExceptionFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import type { DataSource } from 'typeorm';
import { CHALLENGE_DB } from '../database/challenge-database';
import { ChallengeMetrics } from './challenge.metrics';

/** Health and metrics on the service port; the gateway does not route these. */
@Controller()
@UseFilters(HttpExceptionFilter)
export class HealthHttpController {
  constructor(
    @InjectDataSource(CHALLENGE_DB) private readonly db: DataSource,
    private readonly metrics: ChallengeMetrics,
    private readonly consumer: ConsumerHealth,
  ) {}

  /** Healthy when the database answers and the bus consumer runs (it is how outcomes and factor changes flow). */
  @Get('healthz')
  async health(): Promise<{ status: 'ok' }> {
    if (!this.consumer.healthy) throw new ServiceUnavailableException('the bus consumer crashed');
    try {
      await this.db.query('SELECT 1');
    } catch {
      throw new ServiceUnavailableException('database unreachable');
    }
    return { status: 'ok' };
  }

  @Get('metrics')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    await reply
      .header('Content-Type', this.metrics.registry.contentType)
      .send(await this.metrics.registry.metrics());
  }
}
