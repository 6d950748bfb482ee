// Nest's Kafka server, consuming with kafkajs' eachBatch: a topic whose handler is a batch handler gets each
// fetched batch (in chunks of MAX_BATCH) in one call; every other topic goes message by message through
// Nest's own path (events and request/reply alike). Offsets are resolved only after their handler resolved.
//
// A handler that fails never stops the consumer (kafkajs would retry the batch and restart the consumer for
// ever, and every topic this consumer reads would wait, the synchronous requests included). Instead the
// failing message is found (a failed batch runs again one message at a time: handlers are idempotent, so the
// ones before it apply exactly once), its partition is paused and fetched again after a backoff, and a
// message that fails `redelivery.attempts` times goes to the dead-letter topic with the error, after which
// the partition moves on. Failures of what the handler depends on (the database, the broker) are retried
// until it recovers, never dead-lettered (handler-faults.ts).
import { BaseRpcContext, KafkaLogger, ServerKafka, type MessageHandler } from '@nestjs/microservices';
import { TOPICS } from '@stepgate/contracts';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, LogEntry, logCreator } from 'kafkajs';
import { lastValueFrom } from 'rxjs';
import { type ConsumedMessage, isBatchHandler, MAX_BATCH, parseValue } from './batch';
import { MonitoredStatus } from './consumer-health';
import { ConsumerMonitor } from './consumer-monitor';
import { assertEvent, keyOf } from './contract.validation';
import { deadLetterOf } from './dead-letter.filter';
import { handlerError } from './handler-errors.interceptor';
import { classifyFault, describeError, type Fault, RedeliveryLedger } from './handler-faults';
import type { KafkaServerOptions } from './kafka.options';
import type { OffsetReset } from './offset-resets';

/** The context of a batch handler: the topic and partition the batch came from. */
export class KafkaBatchContext extends BaseRpcContext<[string, number]> {
  getTopic(): string {
    return this.args[0];
  }
  getPartition(): number {
    return this.args[1];
  }
}

export class BatchingServerKafka extends ServerKafka {
  readonly monitor: ConsumerMonitor;
  private readonly ledger: RedeliveryLedger;
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(options: KafkaServerOptions) {
    super(options);
    this.monitor = new ConsumerMonitor({
      groupId: this.groupId,
      fromBeginning: options.subscribe?.fromBeginning ?? false,
    });
    this.monitor.onReset = (reset) => this.recordReset(reset);
    this.ledger = new RedeliveryLedger(() => this.monitor.settings.redelivery);
    // Nest's kafkajs logger, with the monitor reading along: kafkajs only logs a reset to the default offset.
    const nestLog: logCreator = options.client?.logCreator ?? KafkaLogger.bind(null, this.logger);
    const logCreator: logCreator = (level) => {
      const log = nestLog(level);
      return (entry: LogEntry) => {
        this.monitor.onLog(entry);
        log(entry);
      };
    };
    this.options.client = { ...this.options.client, brokers: this.brokers, logCreator };
  }

  /** Nest's status strings, carrying the monitor for ConsumerHealth.watch. */
  override get status() {
    return new MonitoredStatus(super.status, this.monitor);
  }

  override async bindEvents(consumer: Consumer): Promise<void> {
    const topics = [...this.messageHandlers.keys()];
    // Nest types kafkajs with its own copy of the interfaces.
    this.monitor.attach(consumer, (this.client as unknown as Kafka).admin(), topics);
    if (topics.length > 0) await consumer.subscribe({ ...(this.options.subscribe ?? {}), topics });
    await consumer.run({
      ...(this.options.run ?? {}),
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  override async close(): Promise<void> {
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    await this.monitor.close();
    await super.close();
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const handler = this.getHandlerByPattern(batch.topic);
    const batched = handler !== null && isBatchHandler(handler.extras);
    const run = (messages: KafkaMessage[]) =>
      batched ? this.runBatch(handler, payload, messages) : this.runOne(payload, messages[0]!);
    const messages = batch.messages;
    this.monitor.metrics?.consumed.inc({ topic: batch.topic }, messages.length);
    // Up to here, messages run one at a time: a batch of them failed, and which one is not known yet.
    let aloneUntil = 0;
    let i = 0;
    while (i < messages.length) {
      // A rebalance took the partition away, or the consumer is stopping: leave the rest to the next owner.
      if (!payload.isRunning() || payload.isStale()) return;
      const first = messages[i]!;
      const key = RedeliveryLedger.keyOf(batch.topic, batch.partition, first.offset);
      if (this.ledger.exhausted(key)) {
        // Its dead letter failed to publish last time: publish it now, without running it again.
        if (!(await this.deadLetter(payload, first, this.ledger.get(key)!.error))) return;
        i += 1;
        continue;
      }
      const alone = !batched || i < aloneUntil || this.ledger.get(key) !== undefined;
      const chunk = messages.slice(i, alone ? i + 1 : i + MAX_BATCH);
      const error = await attempt(() => run(chunk));
      if (error === undefined) {
        for (const m of chunk)
          this.ledger.forget(RedeliveryLedger.keyOf(batch.topic, batch.partition, m.offset));
        const last = chunk[chunk.length - 1]!;
        payload.resolveOffset(last.offset);
        this.monitor.handled(batch.topic, batch.partition, last.offset);
        await payload.heartbeat();
        i += chunk.length;
        continue;
      }
      const fault = classifyFault(error);
      if (chunk.length > 1 && fault === 'message') {
        aloneUntil = i + chunk.length;
        continue;
      }
      if (!(await this.failed(payload, first, fault, error))) return;
      i += 1;
    }
  }

  /**
   * One message failed: retried later (its partition paused, false), or, out of attempts, dead-lettered (true,
   * the partition moves on).
   */
  private async failed(
    payload: EachBatchPayload,
    message: KafkaMessage,
    fault: Fault,
    error: unknown,
  ): Promise<boolean> {
    const { topic, partition } = payload.batch;
    const verdict = this.ledger.failed(
      RedeliveryLedger.keyOf(topic, partition, message.offset),
      fault,
      describeError(error),
    );
    this.monitor.failed(topic, partition, message.offset, verdict);
    if (verdict.exhausted) return this.deadLetter(payload, message, verdict.error);
    const tries =
      fault === 'message'
        ? `attempt ${verdict.attempts} of ${this.monitor.settings.redelivery.attempts}`
        : 'not counted: it is not the message';
    this.logger.warn(
      `handling ${topic}[${partition}] offset ${message.offset} failed (${fault} fault, ${tries}), ` +
        `again in ${verdict.retryInMs} ms: ${verdict.error}`,
    );
    this.retryLater(payload, verdict.retryInMs);
    return false;
  }

  private async runBatch(handler: MessageHandler, payload: EachBatchPayload, messages: KafkaMessage[]) {
    const { topic, partition } = payload.batch;
    const consumed = messages.map((m) => consumedMessage(topic, partition, m));
    const context = new KafkaBatchContext([topic, partition]);
    try {
      const result: unknown = await handler(consumed, context);
      await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
    } catch (err) {
      throw handlerError(context, err);
    }
  }

  private async runOne(payload: EachBatchPayload, message: KafkaMessage): Promise<void> {
    // One function per call: it names this call's context to HandlerErrors.
    const heartbeat = () => payload.heartbeat();
    try {
      await this.handleMessage({
        topic: payload.batch.topic,
        partition: payload.batch.partition,
        message,
        heartbeat,
        pause: () => payload.pause(),
      });
    } catch (err) {
      throw handlerError(heartbeat, err);
    }
  }

  /**
   * Sets a message that used up its attempts aside on the dead-letter topic and moves past it. False when
   * the dead letter could not be published: the message stays, and its partition is tried again later.
   */
  private async deadLetter(
    payload: EachBatchPayload,
    message: KafkaMessage,
    error: string,
  ): Promise<boolean> {
    const { topic, partition } = payload.batch;
    const key = RedeliveryLedger.keyOf(topic, partition, message.offset);
    const { attempts } = this.ledger.get(key) ?? { attempts: 0 };
    const where = `${topic}[${partition}] offset ${message.offset}`;
    try {
      // The value as it arrived, not as parsed.
      const raw = {
        ...consumedMessage(topic, partition, message),
        value: message.value?.toString('utf8') ?? null,
      };
      await this.publishDeadLetter(
        deadLetterOf(raw, `handler failed after ${attempts} attempts: ${error}`, this.groupId),
      );
    } catch (err) {
      this.logger.error(`dead-lettering ${where} failed, trying again later: ${describeError(err)}`);
      this.retryLater(payload, this.monitor.settings.redelivery.maxBackoffMs);
      return false;
    }
    this.ledger.forget(key);
    this.monitor.metrics?.deadLetters.inc({ topic, kind: 'handler_failed' });
    this.logger.error(
      `DEAD-LETTERED ${where} after ${attempts} failed attempts (redelivery exhausted; the partition moves on): ${error}`,
    );
    payload.resolveOffset(message.offset);
    this.monitor.handled(topic, partition, message.offset);
    await payload.heartbeat();
    return true;
  }

  /** The skipped range of an offset reset, on the dead-letter topic beside the messages refused there. */
  private async recordReset(reset: OffsetReset): Promise<void> {
    const message: ConsumedMessage = {
      topic: reset.topic,
      partition: reset.partition,
      offset: reset.from === null ? null : String(reset.from),
      key: null,
      value: '',
    };
    await this.publishDeadLetter(
      deadLetterOf(message, `offset out of range: ${reset.description}`, this.groupId, new Date(reset.at)),
    );
    this.monitor.metrics?.deadLetters.inc({ topic: reset.topic, kind: 'offset_reset' });
  }

  private async publishDeadLetter(record: unknown): Promise<void> {
    if (!this.producer) throw new Error('the server is not connected');
    const valid = assertEvent(TOPICS.deadLetter, record);
    await this.producer.send({
      topic: TOPICS.deadLetter,
      messages: [{ key: keyOf(TOPICS.deadLetter, valid), value: JSON.stringify(valid) }],
      acks: -1,
    });
  }

  /** Pauses the batch's partition and fetches it again (from its first unresolved offset) after `ms`. */
  private retryLater(payload: EachBatchPayload, ms: number): void {
    const resume = payload.pause();
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      resume();
    }, ms);
    this.retries.add(timer);
  }
}

async function attempt(run: () => Promise<void>): Promise<unknown> {
  try {
    await run();
    return undefined;
  } catch (err) {
    return err ?? new Error('the handler rejected without a reason');
  }
}

function consumedMessage(topic: string, partition: number, m: KafkaMessage): ConsumedMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key?.toString('utf8') ?? null,
    value: parseValue(m.value?.toString('utf8') ?? null),
  };
}
