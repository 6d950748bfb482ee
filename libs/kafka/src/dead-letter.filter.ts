// Messages that break their contract go to the dead-letter topic with the reason; the consumer moves on.
// (Valid messages whose handler keeps failing are dead-lettered by the Kafka server: kafka.server.ts.)
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject, Injectable, Logger } from '@nestjs/common';
import { TOPICS, type DeadLetter } from '@stepgate/contracts';
import { from, type Observable } from 'rxjs';
import type { ConsumedMessage, RejectedMessage } from './batch';
import { BusMetrics } from './bus-metrics';
import { InvalidMessageError } from './contract.pipe';
import { MESSAGING_OPTIONS, MessageBus, type MessagingOptions } from './message-bus';

/** The dead-letter record of a message (raw value kept, up to 100,000 characters) refused for `reason`. */
export function deadLetterOf(
  message: ConsumedMessage,
  reason: string,
  consumer: string,
  time = new Date(),
): DeadLetter {
  return {
    time: time.toISOString(),
    consumer,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: textOf(message.key),
    value: (textOf(message.value) ?? 'null').slice(0, 100_000),
    reason: reason.slice(0, 4000),
  };
}

interface MessageContextLike {
  getTopic?(): string;
  getPartition?(): number | null;
  getMessage?(): { key?: unknown; value?: unknown; offset?: string };
}

/** Publishes refused messages to the dead-letter topic, as received, with the reason and where they came from. */
@Injectable()
export class DeadLetters {
  private readonly logger = new Logger(DeadLetters.name);

  constructor(
    private readonly bus: MessageBus,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingOptions,
    private readonly metrics: BusMetrics,
  ) {}

  /**
   * Resolves once the broker has every dead letter: only then may the offset move past the bad messages
   * (if publishing fails, the error reaches the consumer and the messages are redelivered).
   */
  async publish(rejected: readonly RejectedMessage[]): Promise<void> {
    if (rejected.length === 0) return;
    const time = new Date();
    for (const { message, reason } of rejected) {
      this.logger.warn(`dead-lettering ${message.topic}@${message.offset ?? '?'}: ${reason}`);
    }
    await this.bus.publishBatch(
      TOPICS.deadLetter,
      rejected.map(({ message, reason }) => deadLetterOf(message, reason, this.options.groupId, time)),
    );
    for (const { message } of rejected)
      this.metrics.deadLetters.inc({ topic: message.topic, kind: 'invalid' });
  }
}

@Catch(InvalidMessageError)
export class DeadLetterFilter implements ExceptionFilter<InvalidMessageError> {
  constructor(private readonly deadLetters: DeadLetters) {}

  catch(error: InvalidMessageError, host: ArgumentsHost): Observable<unknown> {
    const ctx = host.switchToRpc().getContext<MessageContextLike>();
    const message = ctx.getMessage?.() ?? {};
    const published = this.deadLetters.publish([
      {
        message: {
          topic: ctx.getTopic?.() ?? 'unknown',
          partition: ctx.getPartition?.() ?? null,
          offset: message.offset ?? null,
          key: textOf(message.key),
          value: message.value,
        },
        reason: error.message,
      },
    ]);
    return from(published.then(() => ({ error: 'invalid_message', reason: error.message })));
  }
}

/** Kafka hands keys and values over as strings or buffers (the value possibly already parsed as JSON). */
export function textOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return JSON.stringify(v);
}
