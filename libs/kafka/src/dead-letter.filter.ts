// Messages that break their contract go to the dead-letter topic with the reason; the consumer moves on.
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject, Logger } from '@nestjs/common';
import { TOPICS } from '@stepgate/contracts';
import { from, type Observable } from 'rxjs';
import { InvalidMessageError } from './contract.pipe';
import { MESSAGING_OPTIONS, MessageBus, type MessagingOptions } from './message-bus';

interface MessageContextLike {
  getTopic?(): string;
  getPartition?(): number | null;
  getMessage?(): { key?: unknown; value?: unknown; offset?: string };
}

@Catch(InvalidMessageError)
export class DeadLetterFilter implements ExceptionFilter<InvalidMessageError> {
  private readonly logger = new Logger(DeadLetterFilter.name);

  constructor(
    private readonly bus: MessageBus,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingOptions,
  ) {}

  catch(error: InvalidMessageError, host: ArgumentsHost): Observable<unknown> {
    const ctx = host.switchToRpc().getContext<MessageContextLike>();
    const message = ctx.getMessage?.() ?? {};
    const topic = ctx.getTopic?.() ?? 'unknown';
    const raw = message.value;
    const value =
      typeof raw === 'string'
        ? raw
        : Buffer.isBuffer(raw)
          ? raw.toString('utf8')
          : JSON.stringify(raw ?? null);
    const key =
      message.key == null
        ? null
        : Buffer.isBuffer(message.key)
          ? message.key.toString('utf8')
          : JSON.stringify(message.key);
    this.logger.warn(`dead-lettering ${topic}@${message.offset ?? '?'}: ${error.message}`);
    const published = this.bus.publish(TOPICS.deadLetter, {
      time: new Date().toISOString(),
      consumer: this.options.groupId,
      topic,
      partition: ctx.getPartition?.() ?? null,
      offset: message.offset ?? null,
      key,
      value: value.slice(0, 100_000),
      reason: error.message.slice(0, 4000),
    });
    // The dead letter must be durable before the offset moves past the bad message: if publishing
    // fails, the error reaches the consumer and the message is redelivered.
    return from(published.then(() => ({ error: 'invalid_message', reason: error.message })));
  }
}
