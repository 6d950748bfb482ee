import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { skipEmptyRequestQueueChecks } from './kafkajs-request-queue';

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  destroy(): void;
}
const RequestQueue = createRequire(__filename)('kafkajs/src/network/requestQueue') as new (
  options: Record<string, unknown>,
) => Queue;

const queue = () =>
  new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, clientId: 'test', broker: 'b:1' });

describe(skipEmptyRequestQueueChecks.name, () => {
  afterEach(() => vi.restoreAllMocks());

  it('leaves no timer behind a response when nothing waits, and still schedules one for a throttled request', () => {
    expect(skipEmptyRequestQueueChecks()).toBe(true);
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const sut = queue();
    // What kafkajs does after every response.
    sut.checkPendingRequests();
    expect(timers).not.toHaveBeenCalled();
    expect(sut.throttleCheckTimeoutId).toBeNull();

    sut.throttledUntil = Date.now() + 500;
    sut.pending.push({ correlationId: 1 });
    sut.checkPendingRequests();
    expect(timers).toHaveBeenCalledTimes(1);
    expect(timers.mock.calls[0]![1]).toBeGreaterThan(0);
    sut.destroy();
  });
});
