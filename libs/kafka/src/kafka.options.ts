import type { KafkaOptions } from '@nestjs/microservices';
import type { KafkaConfig, ProducerConfig } from 'kafkajs';
import { skipEmptyRequestQueueChecks } from './kafkajs-request-queue';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** Consumer group of the service; instances of one service share it. */
  groupId: string;
  maxWaitMs: number;
  idempotent: boolean;
}

/** acks=-1 always; idempotence (which kafkajs allows only with one request in flight) when enabled. */
export function producerConfig(settings: KafkaSettings): ProducerConfig {
  return settings.idempotent
    ? { idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true }
    : { allowAutoTopicCreation: true };
}

export function kafkaClientConfig(settings: KafkaSettings, clientId: string): KafkaConfig {
  // Every kafkajs client of ours is configured here: the place to keep its idle connections quiet.
  skipEmptyRequestQueueChecks();
  return {
    clientId,
    brokers: settings.brokers,
    retry: { initialRetryTime: 100, retries: 8 },
    logLevel: 1,
  };
}

export type KafkaServerOptions = Required<KafkaOptions>['options'];

/** Options for the consuming side (ServerKafka): one consumer group per service, fromBeginning for new groups. */
export function kafkaServerOptions(settings: KafkaSettings, fromBeginning: boolean): KafkaServerOptions {
  return {
    client: kafkaClientConfig(settings, `${settings.clientId}-server`),
    consumer: {
      groupId: settings.groupId,
      maxWaitTimeInMs: settings.maxWaitMs,
      allowAutoTopicCreation: true,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    },
    subscribe: { fromBeginning },
    producer: producerConfig(settings),
    send: { acks: -1 },
    postfixId: '',
  };
}
