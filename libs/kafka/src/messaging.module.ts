// Wires the message bus for a service: Kafka when brokers are configured, the in-process bus otherwise.
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { ConsumerHealth } from './consumer-health';
import { DeadLetterFilter, DeadLetters } from './dead-letter.filter';
import { inProcessBroker } from './in-process.broker';
import { InProcessMessageBus } from './in-process.message-bus';
import { InProcessServer } from './in-process.transport';
import { KafkaMessageBus } from './kafka.message-bus';
import { kafkaServerOptions } from './kafka.options';
import { BatchingServerKafka } from './kafka.server';
import { MESSAGING_OPTIONS, MessageBus, type MessagingOptions } from './message-bus';

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
            const bus = new KafkaMessageBus(options, options.requests);
            health.watch(bus.followerStatus);
            await bus.connect();
            return bus;
          },
        },
        DeadLetters,
        ConsumerHealth,
        { provide: APP_FILTER, useClass: DeadLetterFilter },
      ],
      exports: [MessageBus, MESSAGING_OPTIONS, DeadLetters, ConsumerHealth],
    };
  }
}

/** The consuming side, for `app.connectMicroservice(...)`. */
export function messagingTransport(options: MessagingOptions): MicroserviceOptions {
  if (options.brokers.length === 0)
    return { strategy: new InProcessServer(inProcessBroker, options.groupId) };
  return { strategy: new BatchingServerKafka(kafkaServerOptions(options, options.fromBeginning)) };
}
