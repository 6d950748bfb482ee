// Publishes one access event per request without ever blocking the request path. Events are batched
// (one produce request per batch, like a Kafka producer's linger) and tracked until the broker
// acknowledged them; graceful shutdown flushes them. Past the bound, events are refused and counted
// rather than queued without limit.
import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import { GatewayMetrics } from '../health/gateway.metrics';

const MAX_PENDING = 20_000;
const BATCH_SIZE = 500;
const LINGER_MS = 5;

@Injectable()
export class AccessEventPublisher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(AccessEventPublisher.name);
  private buffer: AccessEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private sending = 0;

  constructor(
    private readonly bus: MessageBus,
    private readonly metrics: GatewayMetrics,
  ) {}

  publish(event: AccessEvent): void {
    if (this.buffer.length + this.sending >= MAX_PENDING) {
      this.metrics.accessEvents.inc({ result: 'dropped' });
      return;
    }
    this.buffer.push(event);
    this.metrics.eventBuffer.set(this.buffer.length + this.sending);
    if (this.buffer.length >= BATCH_SIZE) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), LINGER_MS);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.sending += batch.length;
    const sent = this.bus.publishBatch(TOPICS.access, batch).then(
      () => {
        this.metrics.accessEvents.inc({ result: 'published' }, batch.length);
      },
      (err: unknown) => {
        this.metrics.accessEvents.inc({ result: 'failed' }, batch.length);
        this.logger.error(`${batch.length} access events not published: ${String(err)}`);
      },
    );
    this.inFlight.add(sent);
    void sent.finally(() => {
      this.inFlight.delete(sent);
      this.sending -= batch.length;
      this.metrics.eventBuffer.set(this.buffer.length + this.sending);
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.flush();
    if (this.inFlight.size > 0) this.logger.log(`flushing ${this.sending} access events`);
    await Promise.allSettled([...this.inFlight]);
  }
}
