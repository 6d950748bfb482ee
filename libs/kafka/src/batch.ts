// Batch consumption: a handler marked `@BatchEventPattern(topic)` receives every message a fetch brought for
// one partition (Kafka) or everything queued (in-process) in one call, so a service can apply many events in
// one transaction. Offsets move past a batch only when its handler resolved; when it rejects, the Kafka server
// runs the batch again one message at a time to find the failing one (kafka.server.ts), so a batch handler must
// be idempotent per message. `ValidBatch` splits the raw messages into valid events and rejects with their
// reasons.
import type { PipeTransform } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { describeIssues, EVENT_CONTRACTS, type EventOf, type EventTopic } from '@stepgate/contracts';

/** Handlers with these extras get `ConsumedMessage[]` instead of one parsed value. */
export const BATCH_EXTRAS = { batch: true } as const;

/** At most this many messages per handler call; a larger fetch is handed over in several calls, in order. */
export const MAX_BATCH = 1000;

export function isBatchHandler(extras: Record<string, unknown> | undefined): boolean {
  return extras?.batch === true;
}

/** `@BatchEventPattern(TOPICS.access)`: the handler takes a batch (see `ValidBatch`). */
export const BatchEventPattern = (topic: EventTopic) => EventPattern(topic, BATCH_EXTRAS);

/** One message as the transport delivered it: the value parsed as JSON when it was JSON, else the raw text. */
export interface ConsumedMessage {
  topic: string;
  partition: number | null;
  offset: string | null;
  key: string | null;
  value: unknown;
}

export interface RejectedMessage {
  message: ConsumedMessage;
  reason: string;
}

export interface ValidatedBatch<T> {
  /** The valid events, in the order they were consumed. */
  events: T[];
  rejected: RejectedMessage[];
}

export class BatchContractPipe<T extends EventTopic> implements PipeTransform {
  constructor(private readonly topic: T) {}

  transform(messages: ConsumedMessage[]): ValidatedBatch<EventOf<T>> {
    const schema = EVENT_CONTRACTS[this.topic].schema;
    const batch: ValidatedBatch<EventOf<T>> = { events: [], rejected: [] };
    for (const message of messages) {
      if (typeof message.value !== 'object' || message.value === null) {
        const text = String(message.value).slice(0, 80);
        batch.rejected.push({ message, reason: `value is not a JSON object (${text})` });
        continue;
      }
      const result = schema.safeParse(message.value);
      if (result.success) batch.events.push(result.data as EventOf<T>);
      else batch.rejected.push({ message, reason: describeIssues(result.error) });
    }
    return batch;
  }
}

/** `@ValidBatch(TOPICS.access) batch: ValidatedBatch<AccessEvent>`. */
export const ValidBatch = <T extends EventTopic>(topic: T): ParameterDecorator =>
  Payload(new BatchContractPipe(topic));

/** JSON text parsed, anything else kept as text: the contract pipe rejects it with a reason. */
export function parseValue(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
