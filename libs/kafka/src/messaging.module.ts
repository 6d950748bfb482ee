// Wires the message bus for a service: Kafka when brokers are configured, the in-process bus otherwise.
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { CorrelationInterceptor } from '@stepgate/observability';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusMetrics } from './bus-metrics';
import { ConsumerHealth } from './consumer-health';
import { DeadLetterFilter, DeadLetters } from './dead-letter.filter';
import { HandlerErrors } from './handler-errors.interceptor';
import { inProcessBroker } from './in-process.broker';
import { InProcessMessageBus } from './in-process.message-bus';
import { InProcessServer } from './in-process.transport';
import { KafkaMessageBus } from './kafka.message-bus';
import { kafkaServerOptions } from './kafka.options';
import { BatchingServerKafka } from './kafka.server';
import { MESSAGING_OPTIONS, MessageBus, type MessagingOptions } from './message-bus';
import { TopicCompaction } from './topic-compaction';

@Module({})
export class MessagingModule {
  static forRoot(options: MessagingOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: MESSAGING_OPTIONS, useValue: options },
        {
          provide: MessageBus,
          inject: [ConsumerHealth],
          useFactory: async (health: ConsumerHealth): Promise<MessageBus> => {
            if (options.brokers.length === 0) return new InProcessMessageBus(inProcessBroker);
            const bus = new KafkaMessageBus(options, options.requests, options.startWithoutBroker === true);
            health.watch(bus.followerStatus);
            if (options.startWithoutBroker) bus.connectInBackground();
            else await bus.connect();
            return bus;
          },
        },
        DeadLetters,
        BusMetrics,
        TopicCompaction,
        ConsumerHealth,
        { provide: APP_FILTER, useClass: DeadLetterFilter },
        { provide: APP_INTERCEPTOR, useClass: HandlerErrors },
        // Every line a handler logs names the correlation id of the message it handles.
        { provide: APP_INTERCEPTOR, useFactory: () => new CorrelationInterceptor('message') },
      ],
      exports: [MessageBus, MESSAGING_OPTIONS, DeadLetters, ConsumerHealth, BusMetrics],
    };
  }
}

/** The consuming side, for `app.connectMicroservice(...)`. */
export function messagingTransport(options: MessagingOptions): MicroserviceOptions {
  if (options.brokers.length === 0)
    return { strategy: new InProcessServer(inProcessBroker, options.groupId) };
  const serverOptions = kafkaServerOptions(options, options.fromBeginning);
  return {
    strategy: options.startWithoutBroker
      ? new ServerKafkaWithoutBroker(serverOptions)
      : new BatchingServerKafka(serverOptions),
  };
}

const CLOSE_WAIT_MS = 5_000;

/**
 * The consuming side of a service started without the broker (`startWithoutBroker`): closing waits a few
 * seconds at most, since a broker that is away never answers the consumer's leave-group; what the consumer
 * did not commit is consumed again, as after a crash.
 */
class ServerKafkaWithoutBroker extends BatchingServerKafka {
  override async close(): Promise<void> {
    await Promise.race([super.close(), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
  }
}
