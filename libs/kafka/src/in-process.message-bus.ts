import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import {
  describeIssues,
  schemaFor,
  type EventOf,
  type EventTopic,
  type ReplyOf,
  type RequestOf,
  type RequestPattern,
} from '@stepgate/contracts';
import { assertEvent, assertRequest, keyOf, parseReply } from './contract.validation';
import { type InProcessBroker, type InProcessMessage, RequestTimeout } from './in-process.broker';
import {
  type FollowHandler,
  type FollowOptions,
  HEADERS,
  MessageBus,
  type PublishMeta,
  RequestTimeoutError,
} from './message-bus';

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

  async follow<T extends EventTopic>(
    topic: T,
    handler: FollowHandler<T>,
    options: FollowOptions = {},
  ): Promise<() => Promise<void>> {
    const group = `follow-${randomUUID()}`;
    this.broker.follow(topic, group, (message) => deliverFollowed(topic, message.value, handler, message));
    // The in-process broker lives and dies with this process: nothing was published before it existed but
    // what it holds, which follow() has just queued in order. Caught up once those are handled.
    void this.broker.drained(topic, group).then(() => options.onCaughtUp?.());
    return async () => this.broker.unsubscribeGroup(group);
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

const followLogger = new Logger('MessageBus');

/** Parses, validates and hands one followed message over; a bad one is logged and skipped, never retried. */
export async function deliverFollowed<T extends EventTopic>(
  topic: T,
  raw: string | null,
  handler: FollowHandler<T>,
  at: Pick<InProcessMessage, 'offset'> & { partition?: number },
): Promise<void> {
  const where = `${topic}${at.partition === undefined ? '' : `/${at.partition}`}@${at.offset}`;
  let value: unknown;
  try {
    value = JSON.parse(raw ?? '');
  } catch {
    followLogger.error(`skipping ${where}: not JSON`);
    return;
  }
  const parsed = schemaFor(topic)!.safeParse(value);
  if (!parsed.success) {
    followLogger.error(`skipping ${where}: ${describeIssues(parsed.error)}`);
    return;
  }
  await handler(parsed.data as EventOf<T>);
}
