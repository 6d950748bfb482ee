// The correlation id of the request or message being handled, carried through everything it awaits, so that
// every log line written on its behalf names it without passing it down by hand.
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<string>();

/** Runs `fn` (and every callback and promise it starts) with `id` as the correlation id. */
export function withCorrelationId<T>(id: string, fn: () => T): T {
  return current.run(id, fn);
}

/** The correlation id of what is being handled, if anything is. */
export function correlationId(): string | undefined {
  return current.getStore();
}
