// A Nest transport strategy over the in-process broker, so the same @EventPattern/@MessagePattern
// controllers run unchanged in the embedded mode.
import {
  BaseRpcContext,
  type CustomTransportStrategy,
  type MessageHandler,
  Server,
} from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
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
      if (handler.isEventHandler) {
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
    let data: unknown = message.value;
    try {
      data = JSON.parse(message.value);
    } catch {
      // Left as the raw string: the contract pipe rejects it with a reason and dead-letters it.
    }
    const result: unknown = await handler(data, new InProcessContext([message]));
    return isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result;
  }
}
