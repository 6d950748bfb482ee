// The one typed way services publish events and make requests; Kafka and in-process implementations behind it.
import type { EventOf, EventTopic, ReplyOf, RequestOf, RequestPattern } from '@stepgate/contracts';

export interface MessagingOptions {
  /** Kafka client id prefix and log name, e.g. `stepgate-risk`. */
  clientId: string;
  /** Consumer group; every instance of one service shares it. */
  groupId: string;
  /** Request patterns this service sends (it consumes their replies). */
  requests: RequestPattern[];
  /** Kafka bootstrap brokers; empty selects the in-process bus. */
  brokers: string[];
  maxWaitMs: number;
  /**
   * Idempotent producer (needs InitProducerId from the cluster controller). On by default; only
   * librdkafka's mock cluster, which reports no controller, needs it off.
   */
  idempotent: boolean;
  /** Where a new consumer group starts: true for services that must see every event. */
  fromBeginning: boolean;
  /**
   * Start without the broker: connect and follow topics in the background, retrying until the broker
   * answers; meanwhile requests fail at once (BrokerUnavailableError) and publishes wait for the connection.
   * At shutdown, unacknowledged publishes are waited for a few seconds only: the caller keeps what it must not
   * lose (the gateway's access-event spill file). Off: starting waits for the broker.
   */
  startWithoutBroker?: boolean;
}

export const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

export interface PublishMeta {
  correlationId?: string;
  causationId?: string;
}

export abstract class MessageBus {
  /** Validates, then publishes keyed by the contract's key function. Resolves when the broker acknowledged it. */
  abstract publish<T extends EventTopic>(topic: T, value: EventOf<T>, meta?: PublishMeta): Promise<void>;
  /** Validates each, then publishes them as one produce request (each keyed by its contract key). */
  abstract publishBatch<T extends EventTopic>(
    topic: T,
    values: EventOf<T>[],
    metaOf?: (value: EventOf<T>) => PublishMeta,
  ): Promise<void>;
  /**
   * Reads a topic from its start in a consumer group of this instance's own and keeps reading, so every
   * instance sees every message: for state all instances must share (the policy version on its compacted
   * topic). Each value is validated against the topic's contract; one that fails is logged and skipped (a
   * follower has no group to dead-letter for). Resolves once subscribed; call the result to stop.
   */
  abstract follow<T extends EventTopic>(
    topic: T,
    handler: FollowHandler<T>,
    options?: FollowOptions,
  ): Promise<() => Promise<void>>;
  /** Request/reply with a deadline; rejects with RequestTimeoutError when no reply comes in time. */
  abstract request<P extends RequestPattern>(
    pattern: P,
    payload: RequestOf<P>,
    timeoutMs: number,
  ): Promise<ReplyOf<P>>;
}

export type FollowHandler<T extends EventTopic> = (value: EventOf<T>) => Promise<void> | void;

export interface FollowOptions {
  /**
   * Called once, when the follower has handled everything the topic held as it started following (at once
   * when it held nothing): from then on, what the follower knows is as complete as the topic's retention.
   * Not called while the broker cannot be reached.
   */
  onCaughtUp?: () => void;
}

export class RequestTimeoutError extends Error {
  readonly code = 'request_timeout';
  constructor(pattern: string, timeoutMs: number) {
    super(`no reply to ${pattern} within ${timeoutMs} ms`);
  }
}

/** A request made before the bus first reached the broker (only with `startWithoutBroker`). */
export class BrokerUnavailableError extends Error {
  readonly code = 'broker_unavailable';
  constructor(pattern: string) {
    super(`${pattern}: not connected to the broker yet`);
  }
}

export class InvalidReplyError extends Error {
  readonly code = 'invalid_reply';
}

export const HEADERS = {
  correlationId: 'x-correlation-id',
  causationId: 'x-causation-id',
} as const;
