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

  it('stays unhealthy while any watched consumer is crashed, whatever the others report', () => {
    const main = new Subject<string>();
    const follower = new Subject<string>();
    const sut = new ConsumerHealth();
    sut.watch(main);
    sut.watch(follower);

    follower.next('crashed');
    main.next('connected');
    expect(sut.healthy).toBe(false);
    follower.next('connected');
    expect(sut.healthy).toBe(true);
  });
});
