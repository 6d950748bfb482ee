// Whether a service's bus consumer is alive. kafkajs gives up on a non-retriable error (the consumer
// "crashes") and Nest leaves the process serving HTTP with nothing consuming: every service's /healthz must
// say so, so an orchestrator restarts the instance and its partitions move to a live member.
import { Injectable, Logger } from '@nestjs/common';
import type { Observable } from 'rxjs';

@Injectable()
export class ConsumerHealth {
  private readonly logger = new Logger(ConsumerHealth.name);
  /** The watched consumers that crashed and have not reconnected since. */
  private readonly crashed = new Set<object>();

  /** Follows a consumer's status: `crashed` until it reports `connected` again (kafkajs restarted it). */
  watch(status: Observable<string>): void {
    const consumer = {};
    status.subscribe((s) => {
      if (s === 'crashed') {
        this.crashed.add(consumer);
        this.logger.error('a bus consumer crashed: reporting unhealthy until it reconnects');
      } else if (s === 'connected') {
        this.crashed.delete(consumer);
      }
    });
  }

  get healthy(): boolean {
    return this.crashed.size === 0;
  }
}
