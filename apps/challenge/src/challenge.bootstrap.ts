// Builds the challenge service: HTTP (factors, challenges, JWKS, health) plus the request/reply consumer.
// The embedded launcher calls this beside the gateway and risk, so everything comes from `runtime`.
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RuntimeEnv } from '@stepgate/config';
import { REQUESTS } from '@stepgate/contracts';
import { ConsumerHealth, messagingTransport, type MessagingOptions } from '@stepgate/kafka';
import { CorrelationInterceptor, createLogger, FrameworkErrorsFilter } from '@stepgate/observability';
import { ChallengeModule } from './challenge.module';
import { loadChallengeConfig, type ChallengeConfig } from './config';

export function challengeMessaging(runtime: RuntimeEnv): MessagingOptions {
  return {
    clientId: 'stepgate-challenge',
    groupId: `${runtime.kafkaGroupPrefix}-challenge`,
    requests: [REQUESTS.assessRisk],
    brokers: runtime.kafkaBrokers,
    maxWaitMs: runtime.kafkaMaxWaitMs,
    idempotent: runtime.kafkaIdempotent,
    fromBeginning: true,
  };
}

export async function createChallengeApp(
  runtime: RuntimeEnv,
  logger?: LoggerService,
  config: ChallengeConfig = loadChallengeConfig(runtime),
): Promise<NestFastifyApplication> {
  const messaging = challengeMessaging(runtime);
  const app = await NestFactory.create<NestFastifyApplication>(
    ChallengeModule.forRoot({ config, runtime, messaging }),
    // Bodies here are a code, a WebAuthn response or nothing: a small limit keeps junk out cheaply.
    new FastifyAdapter({ bodyLimit: 16 * 1024 }),
    { logger: logger ?? createLogger('challenge', runtime.env), abortOnError: false },
  );
  app.useGlobalFilters(new FrameworkErrorsFilter());
  // Requests come through the gateway, which sets the correlation id header.
  app.useGlobalInterceptors(new CorrelationInterceptor('header'));
  const consumer = app.connectMicroservice(messagingTransport(messaging), { inheritAppConfig: true });
  app.get(ConsumerHealth).watch(consumer.status);
  try {
    await app.startAllMicroservices();
    await app.listen({ host: config.challenge.http.host, port: config.challenge.http.port });
  } catch (err) {
    // In the embedded mode the process lives on: release the database and the bus before giving up.
    await app.close().catch(() => undefined);
    throw err;
  }
  return app;
}
