// Reads a topic from the end with a raw kafkajs consumer, for assertions on what services published.
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Probe {
  messages: { topic: string; key: string | null; value: string; message: KafkaMessage }[];
  waitFor<T = unknown>(pred: (value: T, topic: string) => boolean, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export function kafkaClient(brokers: string): Kafka {
  return new Kafka({
    clientId: `probe-${randomUUID()}`,
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
}

export async function probeTopics(brokers: string, topics: string[]): Promise<Probe> {
  const consumer: Consumer = kafkaClient(brokers).consumer({
    groupId: `probe-${randomUUID()}`,
    maxWaitTimeInMs: 25,
    allowAutoTopicCreation: true,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const messages: Probe['messages'] = [];
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      messages.push({
        topic,
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? '',
        message,
      });
    },
  });
  return {
    messages,
    async waitFor<T>(pred: (value: T, topic: string) => boolean, timeoutMs = 20_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        for (const m of messages) {
          let v: unknown;
          try {
            v = JSON.parse(m.value);
          } catch {
            continue;
          }
          if (pred(v as T, m.topic)) return v as T;
        }
        await sleep(25);
      }
      throw new Error(`no matching message on ${topics.join(', ')} within ${timeoutMs} ms`);
    },
    stop: () => consumer.disconnect(),
  };
}
