import { Controller, Get, Header, Inject, Res, UseFilters } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { TOPICS } from '@stepgate/contracts';
import {
  ConsumerHealth,
  consumerSettingsOf,
  describeError,
  livenessBody,
  readinessBody,
  type LivenessBody,
  type ReadinessBody,
} from '@stepgate/kafka';
import { HttpErrorsFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { RISK_CONFIG, type RiskConfig } from '../config';
import { RISK_DB } from '../database/risk.data-source';

/** Liveness and readiness (docs/OPERATIONS.md, Health: liveness and readiness). */
@Controller()
@UseFilters(new HttpErrorsFilter())
export class HealthHttpController {
  constructor(
    @InjectDataSource(RISK_DB) private readonly dataSource: DataSource,
    private readonly consumer: ConsumerHealth,
    @Inject(RISK_CONFIG) config: RiskConfig,
  ) {
    // The bounds this service's consumer is held to, before bootstrap starts it (risk.kafka).
    consumer.configure(consumerSettingsOf(config.kafka));
  }

  /**
   * Liveness: 503 only when restarting the process is what helps, a bus consumer that kafkajs gave up on or
   * that crashes in a loop. A database or a broker that is away is waited out: readiness says so.
   */
  @Get('healthz')
  @Header('cache-control', 'no-store')
  health(@Res({ passthrough: true }) reply: FastifyReply): LivenessBody {
    const { code, body } = livenessBody(this.consumer.liveness());
    void reply.status(code);
    return body;
  }

  /**
   * Readiness of what risk's HTTP port serves (direct assessments for the gateways, the admin API): the
   * database answers and the policy topic it follows is compacted. Its consumer joining, Kafka away, lag,
   * messages being retried and skipped offsets are warnings: they stop learning, not answers, and a restarted
   * risk kept out of rotation until its consumer group settles would deny every fresh context meanwhile.
   */
  @Get('readyz')
  @Header('cache-control', 'no-store')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadinessBody> {
    const readiness = await this.consumer.readiness({
      compacted: [TOPICS.policyVersion],
      brokerOutage: 'warning',
      joining: 'warning',
    });
    try {
      await this.dataSource.query('SELECT 1');
    } catch (err) {
      readiness.reasons.unshift(`the database is not answering: ${describeError(err)}`);
    }
    const { code, body } = readinessBody(readiness);
    void reply.status(code);
    return body;
  }
}
