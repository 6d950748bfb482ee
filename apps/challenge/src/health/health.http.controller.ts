import { Controller, Get, Header, Inject, Res, UseFilters } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  BusMetrics,
  ConsumerHealth,
  consumerSettingsOf,
  describeError,
  livenessBody,
  readinessBody,
  type LivenessBody,
  type ReadinessBody,
} from '@stepgate/kafka';
import { demoSecretsReadinessWarnings } from '@stepgate/config';
import type { FastifyReply } from 'fastify';
import type { DataSource } from 'typeorm';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { CHALLENGE_DB } from '../database/challenge-database';
import { challengeHttpErrors } from '../http/challenge-errors.filter';
import { ChallengeMetrics } from './challenge.metrics';

/** Health and metrics on the service port; the gateway does not route these. */
@Controller()
@UseFilters(challengeHttpErrors)
export class HealthHttpController {
  constructor(
    @InjectDataSource(CHALLENGE_DB) private readonly db: DataSource,
    private readonly metrics: ChallengeMetrics,
    private readonly consumer: ConsumerHealth,
    bus: BusMetrics,
    @Inject(CHALLENGE_CONFIG) config: ChallengeConfig,
  ) {
    // The bounds the challenge consumer is held to, before bootstrap starts it (challenge.kafka), and its
    // metrics (dead letters, redelivery, offset resets, lag, crashes) under challenge's service label.
    consumer.configure(consumerSettingsOf(config.challenge.kafka));
    bus.registerIn(metrics.registry);
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
   * Readiness: the database answers (factors, challenges, keys) and the consumer that answers challenge
   * requests is in its group with Kafka answering. Lag, messages being retried, skipped offsets and demo
   * secrets in use are warnings.
   */
  @Get('readyz')
  @Header('cache-control', 'no-store')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadinessBody> {
    const readiness = await this.consumer.readiness();
    try {
      await this.db.query('SELECT 1');
    } catch (err) {
      readiness.reasons.unshift(`the database is not answering: ${describeError(err)}`);
    }
    readiness.warnings.push(...demoSecretsReadinessWarnings());
    const { code, body } = readinessBody(readiness);
    void reply.status(code);
    return body;
  }

  @Get('metrics')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    await reply
      .header('Content-Type', this.metrics.registry.contentType)
      .send(await this.metrics.registry.metrics());
  }
}
