// Publishes one access event per request without ever blocking the request path. What is accepted is
// tracked until the broker acknowledges it, and flushed on graceful shutdown; past the bound, events are
// refused and counted rather than queued without limit.
import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import { GatewayMetrics } from '../health/gateway.metrics';

const MAX_IN_FLIGHT = 10_000;

@Injectable()
export class AccessEventPublisher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(AccessEventPublisher.name);
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly bus: MessageBus,
    private readonly metrics: GatewayMetrics,
  ) {}

  publish(event: AccessEvent): void {
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.metrics.accessEvents.inc({ result: 'dropped' });
      return;
    }
    const sent = this.bus.publish(TOPICS.access, event, { correlationId: event.correlationId }).then(
      () => {
        this.metrics.accessEvents.inc({ result: 'published' });
      },
      (err: unknown) => {
        this.metrics.accessEvents.inc({ result: 'failed' });
        this.logger.error(`access event ${event.eventId} not published: ${String(err)}`);
      },
    );
    this.inFlight.add(sent);
    this.metrics.eventBuffer.set(this.inFlight.size);
    void sent.finally(() => {
      this.inFlight.delete(sent);
      this.metrics.eventBuffer.set(this.inFlight.size);
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.inFlight.size > 0) this.logger.log(`flushing ${this.inFlight.size} access events`);
    await Promise.allSettled([...this.inFlight]);
  }
}
