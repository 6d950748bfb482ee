// What a service's bus consumer counts: the metrics to alert on (docs/OPERATIONS.md, What to alert on). Created
// unregistered: each service registers them in its own registry, so they carry its `service` label.
import { Injectable } from '@nestjs/common';
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';

export type DeadLetterKind = 'invalid' | 'handler_failed' | 'offset_reset';

@Injectable()
export class BusMetrics {
  readonly deadLetters = new Counter({
    name: 'stepgate_kafka_dead_letters_total',
    help: 'Records published to the dead-letter topic, by source topic and kind (invalid: broke its contract; handler_failed: redelivery exhausted; offset_reset: offsets skipped)',
    labelNames: ['topic', 'kind'] as const,
    registers: [],
  });

  readonly consumed = new Counter({
    name: 'stepgate_kafka_messages_consumed_total',
    help: 'Messages this instance fetched from Kafka, by topic (what it pays to follow each topic)',
    labelNames: ['topic'] as const,
    registers: [],
  });

  readonly handlerFailures = new Counter({
    name: 'stepgate_kafka_handler_failures_total',
    help: 'Failed attempts to handle a consumed message, by topic and fault (message: counts toward dead-lettering; infrastructure: retried until it recovers)',
    labelNames: ['topic', 'fault'] as const,
    registers: [],
  });

  readonly offsetResets = new Counter({
    name: 'stepgate_kafka_offset_resets_total',
    help: 'Times the consumer asked for an offset the broker no longer (or not yet) had and was reset',
    labelNames: ['topic'] as const,
    registers: [],
  });

  readonly skippedMessages = new Counter({
    name: 'stepgate_kafka_skipped_messages_total',
    help: 'Offsets an offset reset skipped without handling them (when it could be told)',
    labelNames: ['topic'] as const,
    registers: [],
  });

  readonly lag = new Gauge({
    name: 'stepgate_kafka_consumer_lag',
    help: 'Messages on an assigned partition the consumer has not handled yet (refreshed every 15 s)',
    labelNames: ['topic', 'partition'] as const,
    registers: [],
  });

  readonly crashes = new Counter({
    name: 'stepgate_kafka_consumer_crashes_total',
    help: 'Consumer crashes, by cause (broker: Kafka unreachable; other: counts toward the crash loop) and whether kafkajs restarted it',
    labelNames: ['cause', 'restarted'] as const,
    registers: [],
  });

  private readonly all: [string, Metric][] = [
    ['stepgate_kafka_dead_letters_total', this.deadLetters],
    ['stepgate_kafka_messages_consumed_total', this.consumed],
    ['stepgate_kafka_handler_failures_total', this.handlerFailures],
    ['stepgate_kafka_offset_resets_total', this.offsetResets],
    ['stepgate_kafka_skipped_messages_total', this.skippedMessages],
    ['stepgate_kafka_consumer_lag', this.lag],
    ['stepgate_kafka_consumer_crashes_total', this.crashes],
  ];

  /** Adds these metrics to a service's registry (once; a second call is a no-op). */
  registerIn(registry: Registry): void {
    for (const [name, metric] of this.all) {
      if (!registry.getSingleMetric(name)) registry.registerMetric(metric);
    }
  }
}
