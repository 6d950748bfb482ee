// A Nest transport strategy over the in-process broker, so the same @EventPattern/@MessagePattern
// controllers run unchanged in the embedded mode.
import {
  BaseRpcContext,
  type CustomTransportStrategy,
  type MessageHandler,
  Server,
} from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import { type ConsumedMessage, isBatchHandler, MAX_BATCH, parseValue } from './batch';
import type { InProcessBroker, InProcessMessage } from './in-process.broker';

export class InProcessContext extends BaseRpcContext<[InProcessMessage]> {
  getMessage(): InProcessMessage {
    return this.args[0];
  }
  getTopic(): string {
    return this.args[0].topic;
  }
  getPartition(): null {
    return null;
  }
}

export class InProcessBatchContext extends BaseRpcContext<[string]> {
  getTopic(): string {
    return this.args[0];
  }
  getPartition(): null {
    return null;
  }
}

export class InProcessServer extends Server implements CustomTransportStrategy {
  override readonly transportId = Symbol.for('stepgate.in-process');

  constructor(
    private readonly broker: InProcessBroker,
    private readonly group: string,
  ) {
    super();
  }

  listen(callback: () => void): void {
    for (const [pattern, handler] of this.messageHandlers) {
      if (handler.isEventHandler && isBatchHandler(handler.extras)) {
        this.broker.subscribeBatch(
          pattern,
          this.group,
          (messages) => this.runBatch(handler, pattern, messages),
          MAX_BATCH,
        );
      } else if (handler.isEventHandler) {
        this.broker.subscribe(pattern, this.group, (m) => this.run(handler, m).then(() => undefined));
      } else {
        this.broker.handle(pattern, this.group, (m) => this.run(handler, m));
      }
    }
    callback();
  }

  close(): void {
    this.broker.unsubscribeGroup(this.group);
  }

  on(): never {
    throw new Error('events are not supported by the in-process transport');
  }

  unwrap<T>(): T {
    return this.broker as T;
  }

  private async run(handler: MessageHandler, message: InProcessMessage): Promise<unknown> {
    // Not JSON: left as the raw string, which the contract pipe rejects with a reason and dead-letters.
    const result: unknown = await handler(parseValue(message.value), new InProcessContext([message]));
    return isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result;
  }

  private async runBatch(
    handler: MessageHandler,
    topic: string,
    messages: InProcessMessage[],
  ): Promise<void> {
    const consumed: ConsumedMessage[] = messages.map((m) => ({
      topic: m.topic,
      partition: null,
      offset: m.offset,
      key: m.key,
      value: parseValue(m.value),
    }));
    const result: unknown = await handler(consumed, new InProcessBatchContext([topic]));
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }
}
