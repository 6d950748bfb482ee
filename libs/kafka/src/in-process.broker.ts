// The embedded mode's event bus: Kafka's semantics that matter to StepGate (topics, consumer groups,
// per-group ordering, redelivery on handler failure, request/reply) inside one process. Values travel
// as JSON strings so consumers parse and validate exactly as they do over Kafka.
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';

export interface InProcessMessage {
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
  offset: string;
}

type EventHandler = (message: InProcessMessage) => Promise<void>;
type RequestHandler = (message: InProcessMessage) => Promise<unknown>;

interface GroupQueue {
  handler: EventHandler;
  tail: Promise<void>;
  pending: number;
}

export class InProcessBroker {
  private readonly groups = new Map<string, Map<string, GroupQueue>>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly logger = new Logger('InProcessBroker');
  private offsets = 0;
  private closed = false;

  subscribe(topic: string, group: string, handler: EventHandler): void {
    let byGroup = this.groups.get(topic);
    if (!byGroup) this.groups.set(topic, (byGroup = new Map<string, GroupQueue>()));
    if (!byGroup.has(group)) byGroup.set(group, { handler, tail: Promise.resolve(), pending: 0 });
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
    for (const queue of this.groups.get(message.topic)?.values() ?? []) {
      queue.pending++;
      queue.tail = queue.tail.then(() => this.deliver(queue, full));
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

  /** Like a Kafka consumer, a failing handler sees the same message again, with backoff, until it succeeds. */
  private async deliver(queue: GroupQueue, message: InProcessMessage): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await queue.handler(message);
        break;
      } catch (err) {
        this.logger.warn(
          `redelivering ${message.topic}@${message.offset} (attempt ${attempt + 1}): ${String(err)}`,
        );
        if (this.closed && attempt > 3) break;
        await sleep(Math.min(50 * 2 ** attempt, 2000));
      }
    }
    queue.pending--;
  }
}

export class RequestTimeout extends Error {}

/** The process-wide broker of the embedded mode: every app in the process shares it. */
export const inProcessBroker = new InProcessBroker();
