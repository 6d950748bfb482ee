// Starts what the integration and e2e specs share: one Kafka (real or the kcat mock cluster).
import type { TestProject } from 'vitest/node';
import { startKafkaForTests, type KafkaForTests } from './kafka-mock';

let kafka: KafkaForTests | undefined;

export async function setup(project: TestProject): Promise<void> {
  kafka = await startKafkaForTests(process.env);
  project.provide('kafkaBrokers' as never, kafka.brokers as never);
}

export async function teardown(): Promise<void> {
  await kafka?.stop();
}
