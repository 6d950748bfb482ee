// Nest's Kafka server, consuming with kafkajs' eachBatch: a topic whose handler is a batch handler gets each
// fetched batch (in chunks of MAX_BATCH) in one call; every other topic goes message by message through
// Nest's own path (events and request/reply alike). Offsets are resolved only after their handler resolved,
// so a crash or a rejected batch redelivers from the first message not yet applied.
import { BaseRpcContext, ServerKafka } from '@nestjs/microservices';
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { lastValueFrom } from 'rxjs';
import { type ConsumedMessage, isBatchHandler, MAX_BATCH, parseValue } from './batch';

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
  override async bindEvents(consumer: Consumer): Promise<void> {
    const topics = [...this.messageHandlers.keys()];
    if (topics.length > 0) await consumer.subscribe({ ...(this.options.subscribe ?? {}), topics });
    await consumer.run({
      ...(this.options.run ?? {}),
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const handler = this.getHandlerByPattern(batch.topic);
    if (handler && isBatchHandler(handler.extras)) {
      const context = new KafkaBatchContext([batch.topic, batch.partition]);
      for (let i = 0; i < batch.messages.length; i += MAX_BATCH) {
        // A rebalance took the partition away: leave the rest to its new owner.
        if (!payload.isRunning() || payload.isStale()) return;
        const chunk = batch.messages.slice(i, i + MAX_BATCH);
        const consumed = chunk.map((m) => consumedMessage(batch.topic, batch.partition, m));
        const result: unknown = await handler(consumed, context);
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
        payload.resolveOffset(chunk[chunk.length - 1]!.offset);
        await payload.heartbeat();
      }
      return;
    }
    for (const message of batch.messages) {
      if (!payload.isRunning() || payload.isStale()) return;
      await this.handleMessage({
        topic: batch.topic,
        partition: batch.partition,
        message,
        heartbeat: () => payload.heartbeat(),
        pause: () => payload.pause(),
      });
      payload.resolveOffset(message.offset);
      await payload.heartbeat();
    }
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
