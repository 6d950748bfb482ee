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
    const value = textOf(message.value) ?? 'null';
    const key = textOf(message.key);
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

/** Kafka hands keys and values over as strings or buffers (the value possibly already parsed as JSON). */
function textOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return JSON.stringify(v);
}
