import type { EventOf, EventTopic, ReplyOf, RequestOf, RequestPattern } from '@stepgate/contracts';
import { assertEvent, assertRequest, keyOf, parseReply } from './contract.validation';
import { type InProcessBroker, RequestTimeout } from './in-process.broker';
import { HEADERS, MessageBus, type PublishMeta, RequestTimeoutError } from './message-bus';

export class InProcessMessageBus extends MessageBus {
  constructor(private readonly broker: InProcessBroker) {
    super();
  }

  async publish<T extends EventTopic>(topic: T, value: EventOf<T>, meta: PublishMeta = {}): Promise<void> {
    const valid = assertEvent(topic, value);
    this.broker.publish({
      topic,
      key: keyOf(topic, valid),
      value: JSON.stringify(valid),
      headers: headersOf(meta),
    });
  }

  async publishBatch<T extends EventTopic>(
    topic: T,
    values: EventOf<T>[],
    metaOf?: (value: EventOf<T>) => PublishMeta,
  ): Promise<void> {
    for (const value of values) await this.publish(topic, value, metaOf?.(value));
  }

  async request<P extends RequestPattern>(
    pattern: P,
    payload: RequestOf<P>,
    timeoutMs: number,
  ): Promise<ReplyOf<P>> {
    assertRequest(pattern, payload);
    try {
      const reply = await this.broker.request(
        { topic: pattern, key: null, value: JSON.stringify(payload), headers: headersOf({}) },
        timeoutMs,
      );
      return parseReply(pattern, reply);
    } catch (err) {
      if (err instanceof RequestTimeout) throw new RequestTimeoutError(pattern, timeoutMs);
      throw err;
    }
  }
}

export function headersOf(meta: PublishMeta): Record<string, string> {
  const headers: Record<string, string> = {};
  if (meta.correlationId) headers[HEADERS.correlationId] = meta.correlationId;
  if (meta.causationId) headers[HEADERS.causationId] = meta.causationId;
  return headers;
}
