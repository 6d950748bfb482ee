// What a failed handler tells us, and how often a message may fail before it is set aside. A fault of the
// message (the store refused its data, the handler threw on it) is retried a few times, then dead-lettered so
// the partition moves on; a fault of what the handler depends on (the database or the broker is away) is
// retried until it recovers, since dead-lettering every message of an outage would lose them all.
import type { ConsumerSettings } from './consumer-settings';

export type Fault = 'message' | 'infrastructure';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * SQLSTATE classes that are about the database, not the row: connection (08), transaction rollback such as
 * serialization failures and deadlocks (40), a schema the code does not match or a missing privilege (42: a
 * deployment to fix, not a message to drop), resources (53), object state such as a lock timeout (55),
 * operator intervention such as a shutdown (57), system (58) and internal (XX) errors.
 */
const INFRASTRUCTURE_SQLSTATE_CLASSES = new Set(['08', '40', '42', '53', '55', '57', '58', 'XX']);

const SQLSTATE = /^(?:[0-9][0-9A-Z]|P0|XX|HV|F0)[0-9A-Z]{3}$/;

const SQLITE_INFRASTRUCTURE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|NOMEM|INTERRUPT|PROTOCOL)/;

/** node-postgres and TypeORM say these without a code when the server or the pool is away. */
const DRIVER_OUTAGE =
  /Connection terminated|Connection ended unexpectedly|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)|Driver not Connected|connection is not established/i;

/** Kafka refused this record itself: retrying it will not help. */
const KAFKA_MESSAGE_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  type?: unknown;
  message?: unknown;
  cause?: unknown;
  driverError?: unknown;
  errors?: unknown;
}

/** Whether a handler's error is about the message or about what the handler depends on. */
export function classifyFault(error: unknown): Fault {
  const chain = causes(error);
  if (chain.some((e) => typeof e.type === 'string' && KAFKA_MESSAGE_ERRORS.has(e.type))) return 'message';
  for (const e of chain) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    const name = typeof e.name === 'string' ? e.name : '';
    if (code && NETWORK_CODES.has(code)) return 'infrastructure';
    if (code && SQLSTATE.test(code))
      return INFRASTRUCTURE_SQLSTATE_CLASSES.has(code.slice(0, 2)) ? 'infrastructure' : 'message';
    if (code?.startsWith('SQLITE_')) return SQLITE_INFRASTRUCTURE.test(code) ? 'infrastructure' : 'message';
    // The bus's own request deadline (a handler asking another service).
    if (code === 'request_timeout') return 'infrastructure';
    if (name.startsWith('KafkaJS')) return 'infrastructure';
    if (typeof e.message === 'string' && DRIVER_OUTAGE.test(e.message)) return 'infrastructure';
  }
  return 'message';
}

const BROKER_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
]);

const BROKER_PROTOCOL_ERRORS = new Set([
  'NETWORK_EXCEPTION',
  'REQUEST_TIMED_OUT',
  'BROKER_NOT_AVAILABLE',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR',
  'KAFKA_STORAGE_ERROR',
]);

/**
 * Whether a consumer crash says Kafka is unreachable (or moving leaders): the consumer waits it out and
 * reconnects, so it makes the instance not ready, never a restart candidate.
 */
export function isBrokerOutage(error: unknown): boolean {
  return causes(error).some(
    (e) =>
      (typeof e.name === 'string' && BROKER_ERRORS.has(e.name)) ||
      (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) ||
      (typeof e.type === 'string' && BROKER_PROTOCOL_ERRORS.has(e.type)),
  );
}

/** The error and what caused it, outermost first (driver errors, causes, an AggregateError's members). */
function causes(error: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || out.includes(e)) continue;
    const like = e as ErrorLike;
    out.push(like);
    queue.push(like.driverError, like.cause);
    if (Array.isArray(like.errors)) queue.push(...(like.errors as unknown[]));
  }
  return out;
}

/**
 * One line for logs, health and dead letters: the error's name, its code when it has one, its message, and
 * what caused it at the root (kafkajs wraps the error that matters in "retries exceeded").
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 1000);
  const one = (e: Error) => {
    const code = (e as ErrorLike).code;
    return `${typeof code === 'string' && code !== '' ? `${e.name} [${code}]` : e.name}: ${e.message}`;
  };
  let root: Error = error;
  while (root.cause instanceof Error && root.cause !== root) root = root.cause;
  const text = root === error ? one(error) : `${one(error)}, caused by ${one(root)}`;
  return text.slice(0, 1000);
}

/** Wait before the attempt after `failures` failures: backoffMs, doubling, capped at maxBackoffMs. */
export function backoffMs(failures: number, settings: ConsumerSettings['redelivery']): number {
  const doubled = settings.backoffMs * 2 ** Math.max(0, Math.min(failures - 1, 20));
  return Math.min(settings.maxBackoffMs, doubled);
}

export interface FailureRecord {
  /** Failed attempts that counted: faults of the message. */
  attempts: number;
  /** Every failure, either kind: what the backoff grows with. */
  failures: number;
  fault: Fault;
  error: string;
  since: number;
}

export interface FailureVerdict extends FailureRecord {
  /** The message has failed `attempts` times: dead-letter it. */
  exhausted: boolean;
  /** Otherwise, wait this long before the next attempt. */
  retryInMs: number;
}

/**
 * Failed messages by topic, partition and offset, remembered across the refetches that retry them (a
 * message is retried by pausing its partition and fetching it again after the backoff). Bounded: a partition
 * that moved to another instance leaves its entries behind, and the oldest go first.
 */
export class RedeliveryLedger {
  private readonly entries = new Map<string, FailureRecord>();

  constructor(
    private readonly settings: () => ConsumerSettings['redelivery'],
    private readonly maxEntries = 10_000,
  ) {}

  static keyOf(topic: string, partition: number, offset: string): string {
    return `${topic}|${partition}|${offset}`;
  }

  get(key: string): FailureRecord | undefined {
    return this.entries.get(key);
  }

  /** A message that has used up its attempts (its dead letter has not been published yet). */
  exhausted(key: string): boolean {
    return (this.entries.get(key)?.attempts ?? 0) >= this.settings().attempts;
  }

  failed(key: string, fault: Fault, error: string, now = Date.now()): FailureVerdict {
    const before = this.entries.get(key);
    const record: FailureRecord = {
      attempts: (before?.attempts ?? 0) + (fault === 'message' ? 1 : 0),
      failures: (before?.failures ?? 0) + 1,
      fault,
      error,
      since: before?.since ?? now,
    };
    this.entries.delete(key);
    this.entries.set(key, record);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const settings = this.settings();
    return {
      ...record,
      exhausted: record.attempts >= settings.attempts,
      retryInMs: backoffMs(record.failures, settings),
    };
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
