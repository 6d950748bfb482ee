import type { KafkaOptions } from '@nestjs/microservices';
import { Transport } from '@nestjs/microservices';
import type { KafkaConfig } from 'kafkajs';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** Consumer group of the service; instances of one service share it. */
  groupId: string;
  maxWaitMs: number;
}

export function kafkaClientConfig(settings: KafkaSettings, clientId: string): KafkaConfig {
  return {
    clientId,
    brokers: settings.brokers,
    retry: { initialRetryTime: 100, retries: 8 },
    logLevel: 1,
  };
}

/** Options for the consuming side (ServerKafka): one consumer group per service, fromBeginning for new groups. */
export function kafkaServerOptions(settings: KafkaSettings, fromBeginning: boolean): KafkaOptions {
  return {
    transport: Transport.KAFKA,
    options: {
      client: kafkaClientConfig(settings, `${settings.clientId}-server`),
      consumer: {
        groupId: settings.groupId,
        maxWaitTimeInMs: settings.maxWaitMs,
        allowAutoTopicCreation: true,
        sessionTimeout: 30_000,
        heartbeatInterval: 3_000,
      },
      subscribe: { fromBeginning },
      producer: { idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true },
      send: { acks: -1 },
      postfixId: '',
    },
  };
}
