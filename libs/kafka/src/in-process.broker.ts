// The embedded mode's event bus: Kafka's semantics that matter to StepGate (topics, consumer groups,
// per-group ordering, redelivery on handler failure, request/reply) inside one process. Values travel
// as JSON strings so consumers parse and validate exactly as they do over Kafka.
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { COMPACTED_TOPICS } from '@stepgate/contracts';

export interface InProcessMessage {
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
  offset: string;
}

type EventHandler = (message: InProcessMessage) => Promise<void>;
type BatchHandler = (messages: InProcessMessage[]) => Promise<void>;
type RequestHandler = (message: InProcessMessage) => Promise<unknown>;

interface GroupQueue {
  /** One message at a time, or (batch) everything that arrived while the previous batch was being handled. */
  handler: { one: EventHandler } | { batch: BatchHandler; maxBatch: number };
  tail: Promise<void>;
  pending: number;
  buffer: InProcessMessage[];
}

export class InProcessBroker {
  private readonly groups = new Map<string, Map<string, GroupQueue>>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly logger = new Logger('InProcessBroker');
  /** The newest message per key of each compacted topic, replayed to a new follower as Kafka would. */
  private readonly compacted = new Map<string, Map<string | null, InProcessMessage>>(
    COMPACTED_TOPICS.map((t) => [t, new Map()]),
  );
  private offsets = 0;
  private closed = false;

  subscribe(topic: string, group: string, handler: EventHandler): void {
    this.addQueue(topic, group, { one: handler });
  }

  /** Like `subscribe`, but the handler gets up to `maxBatch` messages at once, in publish order. */
  subscribeBatch(topic: string, group: string, handler: BatchHandler, maxBatch: number): void {
    this.addQueue(topic, group, { batch: handler, maxBatch });
  }

  /** A group of its own that first gets what a compacted topic retains, then whatever is published. */
  follow(topic: string, group: string, handler: EventHandler): void {
    this.addQueue(topic, group, { one: handler });
    const queue = this.groups.get(topic)!.get(group)!;
    for (const message of this.compacted.get(topic)?.values() ?? []) {
      queue.pending++;
      queue.tail = queue.tail.then(() => this.deliver(queue, [message]));
    }
  }

  /** Resolves once what a group's queue holds now has been handled. */
  drained(topic: string, group: string): Promise<void> {
    return this.groups.get(topic)?.get(group)?.tail ?? Promise.resolve();
  }

  private addQueue(topic: string, group: string, handler: GroupQueue['handler']): void {
    let byGroup = this.groups.get(topic);
    if (!byGroup) this.groups.set(topic, (byGroup = new Map<string, GroupQueue>()));
    if (!byGroup.has(group)) byGroup.set(group, { handler, tail: Promise.resolve(), pending: 0, buffer: [] });
  }

  unsubscribeGroup(group: string): void {
    for (const byGroup of this.groups.values()) byGroup.delete(group);
    for (const [pattern, handler] of this.requestHandlers) {
      if ((handler as RequestHandler & { group?: string }).group === group)
        this.requestHandlers.delete(pattern);
    }
  }

  handle(pattern: string, group: string, handler: RequestHandler): void {
    const tagged = Object.assign(handler, { group });
    if (!this.requestHandlers.has(pattern)) this.requestHandlers.set(pattern, tagged);
  }

  publish(message: Omit<InProcessMessage, 'offset'>): void {
    if (this.closed) throw new Error('in-process broker is closed');
    const full: InProcessMessage = { ...message, offset: String(this.offsets++) };
    this.compacted.get(message.topic)?.set(message.key, full);
    for (const queue of this.groups.get(message.topic)?.values() ?? []) {
      queue.pending++;
      if (!('batch' in queue.handler)) {
        queue.tail = queue.tail.then(() => this.deliver(queue, [full]));
        continue;
      }
      // Batched: the message joins the buffer; a flush is queued only if none is waiting to take it.
      queue.buffer.push(full);
      if (queue.buffer.length === 1) queue.tail = queue.tail.then(() => this.flush(queue));
    }
  }

  async request(message: Omit<InProcessMessage, 'offset'>, timeoutMs: number): Promise<unknown> {
    const handler = this.requestHandlers.get(message.topic);
    if (!handler) {
      // Like Kafka with no consumer for the pattern: nobody answers, and the caller's deadline decides.
      await sleep(timeoutMs);
      throw new RequestTimeout();
    }
    const ac = new AbortController();
    try {
      return await Promise.race([
        handler({ ...message, offset: String(this.offsets++) }),
        sleep(timeoutMs, undefined, { signal: ac.signal }).then(() => {
          throw new RequestTimeout();
        }),
      ]);
    } finally {
      ac.abort();
    }
  }

  /** Resolves once every accepted message has been handled by every group. */
  async drain(): Promise<void> {
    for (;;) {
      const queues = [...this.groups.values()].flatMap((g) => [...g.values()]);
      if (queues.every((q) => q.pending === 0)) return;
      await Promise.all(queues.map((q) => q.tail));
    }
  }

  close(): void {
    this.closed = true;
  }

  private async flush(queue: GroupQueue): Promise<void> {
    const maxBatch = 'batch' in queue.handler ? queue.handler.maxBatch : 1;
    while (queue.buffer.length > 0) await this.deliver(queue, queue.buffer.splice(0, maxBatch));
  }

  /** Like a Kafka consumer, a failing handler sees the same messages again, with backoff, until it succeeds. */
  private async deliver(queue: GroupQueue, messages: InProcessMessage[]): Promise<void> {
    const { handler } = queue;
    for (let attempt = 0; ; attempt++) {
      try {
        await ('batch' in handler ? handler.batch(messages) : handler.one(messages[0]!));
        break;
      } catch (err) {
        const first = messages[0]!;
        this.logger.warn(
          `redelivering ${first.topic}@${first.offset} (+${messages.length - 1}, attempt ${attempt + 1}): ${String(err)}`,
        );
        if (this.closed && attempt > 3) break;
        await sleep(Math.min(50 * 2 ** attempt, 2000));
      }
    }
    queue.pending -= messages.length;
  }
}

export class RequestTimeout extends Error {}

/** The process-wide broker of the embedded mode: every app in the process shares it. */
export const inProcessBroker = new InProcessBroker();
