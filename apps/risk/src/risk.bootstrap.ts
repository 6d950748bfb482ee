// Builds and starts the risk service: config, Nest over Fastify, the HTTP port, then the bus consumer.
// Used by main.ts and by the embedded launcher, so it keeps no process-wide state of its own.
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RuntimeEnv } from '@stepgate/config';
import { ConsumerHealth, messagingTransport } from '@stepgate/kafka';
import { CorrelationInterceptor, createLogger, FrameworkErrorsFilter } from '@stepgate/observability';
import { loadRiskConfig, type RiskConfig } from './config';
import { riskMessagingOptions, RiskModule } from './risk.module';

export async function createRiskApp(
  runtime: RuntimeEnv,
  logger?: LoggerService,
  config: RiskConfig = loadRiskConfig(runtime),
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    RiskModule.forRoot(config, runtime),
    new FastifyAdapter(),
    {
      logger: logger ?? createLogger('risk', runtime.env),
      // Throw instead of exiting the process: the embedded launcher and the tests host other services too.
      abortOnError: false,
    },
  );
  app.useGlobalFilters(new FrameworkErrorsFilter());
  // The gateway's direct assessments carry the request's correlation id in a header.
  app.useGlobalInterceptors(new CorrelationInterceptor('header'));
  try {
    const consumer = app.connectMicroservice(messagingTransport(riskMessagingOptions(runtime, config)), {
      inheritAppConfig: true,
    });
    app.get(ConsumerHealth).watch(consumer.status);
    // The port first: the gateway's direct assessments (adr/0016-direct-risk-path) need only the database,
    // while joining the consumer group after a crash waits out the dead member's session (30 s). Start fails
    // if either fails.
    await app.listen({ host: config.http.host, port: config.http.port });
    await app.startAllMicroservices();
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  return app;
}
