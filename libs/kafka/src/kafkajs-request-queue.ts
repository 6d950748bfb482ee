// kafkajs 2.2.4 re-checks a connection's request queue after every response, even when nothing waits in it,
// with a delay of `throttledUntil - Date.now()`: never throttled, `throttledUntil` is -1, so the delay is
// minus the clock. Node 24 warns (TimeoutNegativeWarning) and waits 1 ms instead, and each check schedules
// the next: every connection that has had an answer wakes the event loop every millisecond for as long as
// it lives (tulios/kafkajs#1704, #1751; one idle producer against the mock cluster ran the check 1,539 times
// and used 152 ms of CPU in 2 s). No client option reaches that code, and the project is unmaintained, so
// the check is skipped here when the queue is empty: a request queued later schedules its own check.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The kafkajs release whose request queue this was checked against; another one is left alone. */
export const KAFKAJS_VERSION = '2.2.4';

interface RequestQueue {
  pending: unknown[];
  scheduleCheckPendingRequests: (this: RequestQueue) => void;
}

let installed = false;

/**
 * Skips kafkajs' re-check of an empty request queue (see above). Idempotent; returns whether the fix is in
 * place, false for a kafkajs release other than the one it was written for.
 */
export function skipEmptyRequestQueueChecks(): boolean {
  if (installed) return true;
  const load = createRequire(__filename);
  const pkg = JSON.parse(readFileSync(load.resolve('kafkajs/package.json'), 'utf8')) as { version: string };
  if (pkg.version !== KAFKAJS_VERSION) return false;
  const queue = (load('kafkajs/src/network/requestQueue') as { prototype: RequestQueue }).prototype;
  const check = queue.scheduleCheckPendingRequests;
  queue.scheduleCheckPendingRequests = function (this: RequestQueue) {
    if (this.pending.length > 0) check.call(this);
  };
  installed = true;
  return true;
}
