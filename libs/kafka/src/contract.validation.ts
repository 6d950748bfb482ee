import {
  EVENT_CONTRACTS,
  REQUEST_CONTRACTS,
  describeIssues,
  type EventOf,
  type EventTopic,
  type ReplyOf,
  type RequestPattern,
} from '@stepgate/contracts';
import { InvalidReplyError } from './message-bus';

/**
 * Values checkedEvent validated, and for which topic. Frozen so they stay valid: shallowly, which holds for
 * flat events (access events); an event with nested objects must not be changed after it is checked.
 */
const checked = new WeakMap<object, EventTopic>();

/**
 * Validates a value when it is produced rather than when its batch is sent: a producer that queues events
 * (the gateway's access events) refuses the bad one alone, and the batch it joins is not checked again.
 */
export function checkedEvent<T extends EventTopic>(topic: T, value: unknown): EventOf<T> {
  const data = Object.freeze(assertEvent(topic, value)) as EventOf<T>;
  checked.set(data, topic);
  return data;
}

/** Throws when a value about to be produced breaks its contract: a bug in the producer, never sent. */
export function assertEvent<T extends EventTopic>(topic: T, value: unknown): EventOf<T> {
  if (typeof value === 'object' && value !== null && checked.get(value) === topic) return value as EventOf<T>;
  const result = EVENT_CONTRACTS[topic].schema.safeParse(value);
  if (!result.success)
    throw new Error(`refusing to publish an invalid ${topic}: ${describeIssues(result.error)}`);
  return result.data as EventOf<T>;
}

export function assertRequest(pattern: RequestPattern, value: unknown): void {
  const result = REQUEST_CONTRACTS[pattern].request.safeParse(value);
  if (!result.success)
    throw new Error(`refusing to send an invalid ${pattern}: ${describeIssues(result.error)}`);
}

export function parseReply<P extends RequestPattern>(pattern: P, value: unknown): ReplyOf<P> {
  const result = REQUEST_CONTRACTS[pattern].reply.safeParse(value);
  if (!result.success)
    throw new InvalidReplyError(`invalid reply to ${pattern}: ${describeIssues(result.error)}`);
  return result.data as ReplyOf<P>;
}

export function keyOf<T extends EventTopic>(topic: T, value: EventOf<T>): string {
  return (EVENT_CONTRACTS[topic].key as (v: EventOf<T>) => string)(value);
}
