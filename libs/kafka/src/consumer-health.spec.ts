import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ConsumerHealth } from './consumer-health';

describe(ConsumerHealth.name, () => {
  it('is unhealthy from a crash until the consumer reconnects', () => {
    const status = new Subject<string>();
    const sut = new ConsumerHealth();
    sut.watch(status);

    status.next('connected');
    expect(sut.healthy).toBe(true);
    status.next('crashed');
    expect(sut.healthy).toBe(false);
    // Rebalancing and disconnects are part of a live consumer's life; only a reconnect clears a crash.
    status.next('rebalancing');
    expect(sut.healthy).toBe(false);
    status.next('connected');
    expect(sut.healthy).toBe(true);
  });
});
