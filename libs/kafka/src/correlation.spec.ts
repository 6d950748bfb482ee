// A message handler's log lines name the message's correlation id: MessagingModule enters it for every
// handler, on the in-process transport as on Kafka (the same Nest pipeline).
import { Controller, Logger, type LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern } from '@nestjs/microservices';
import { correlationId } from '@stepgate/observability';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessBroker } from './in-process.broker';
import { InProcessServer } from './in-process.transport';
import { MessagingModule } from './messaging.module';

const TOPIC = 'test.correlation.v1';

@Controller()
class LoggingController {
  private readonly logger = new Logger('Handler');

  @EventPattern(TOPIC)
  async onEvent(_event: unknown): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.logger.log('handled');
  }
}

@Module({
  imports: [
    MessagingModule.forRoot({
      clientId: 'test',
      groupId: 'test',
      requests: [],
      brokers: [],
      maxWaitMs: 100,
      idempotent: false,
      fromBeginning: true,
    }),
  ],
  controllers: [LoggingController],
})
class TestModule {}

describe('message handlers', () => {
  const seen: (string | undefined)[] = [];
  const logger: LoggerService = {
    log: (message: unknown) => {
      if (message === 'handled') seen.push(correlationId());
    },
    error: () => undefined,
    warn: () => undefined,
  };
  const broker = new InProcessBroker();
  let close: (() => Promise<void>) | undefined;
  afterAll(async () => close?.());

  it('log with the correlation id of the message they handle', async () => {
    const app = await NestFactory.createMicroservice(TestModule, {
      strategy: new InProcessServer(broker, 'test'),
      logger,
    });
    close = () => app.close();
    await app.listen();
    broker.publish({ topic: TOPIC, key: 'k', headers: {}, value: JSON.stringify({ correlationId: 'c-42' }) });
    broker.publish({ topic: TOPIC, key: 'k', headers: {}, value: JSON.stringify({ other: 1 }) });
    await broker.drain();
    expect(seen).toEqual(['c-42', undefined]);
  });
});
