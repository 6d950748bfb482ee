// What one bus consumer is doing, from kafkajs' instrumentation events, its log and the server's handler
// outcomes: whether it joined its group, whether Kafka answers, whether it crashes in a loop, which partitions
// are stuck on a failing message, how far behind it is, and which offsets a reset skipped. ConsumerHealth
// turns this into liveness and readiness.
import { Logger } from '@nestjs/common';
import type { Admin, Consumer, LogEntry } from 'kafkajs';
import type { BusMetrics } from './bus-metrics';
import { DEFAULT_CONSUMER_SETTINGS, type ConsumerSettings } from './consumer-settings';
import { describeError, isBrokerOutage, type FailureVerdict } from './handler-faults';
import { describeReset, type OffsetReset } from './offset-resets';

/** Without an answer from Kafka for this long (fetches run every maxWaitMs, heartbeats every 3 s), it is away. */
export const BROKER_SILENCE_MS = 30_000;
const LAG_EVERY_MS = 15_000;
const KEEP_RESETS = 50;
/** What kafkajs logs (at error level) when it resets a partition's offset; it emits no event for it. */
const OFFSET_RESET_LOG = 'Offset out of range, resetting';

export interface ConsumerMonitorOptions {
  groupId: string;
  /** Where kafkajs resets an out-of-range offset: the earliest (true) or the latest. */
  fromBeginning: boolean;
}

interface Failing {
  offset: string;
  verdict: FailureVerdict;
}

export interface ConsumerReport {
  /** Restart me: liveness fails. */
  fatal: string[];
  /** Not ready: the fatal ones. */
  reasons: string[];
  /** A consumer that has not joined its group since it started: each service decides what that means. */
  joining: string[];
  /** Kafka away after the consumer had joined: each service decides whether that makes it not ready. */
  outage: string[];
  /** Ready, but look. */
  warnings: string[];
}

const partitionKey = (topic: string, partition: number) => `${topic}|${partition}`;
const iso = (t: number) => new Date(t).toISOString();

export class ConsumerMonitor {
  private readonly logger = new Logger('BusConsumer');
  /** Given by ConsumerHealth when it watches this consumer (the service's configured ones). */
  settings: ConsumerSettings = DEFAULT_CONSUMER_SETTINGS;
  metrics: BusMetrics | null = null;
  /** Publishes the record of a reset (the server's dead-letter producer). */
  onReset: ((reset: OffsetReset) => Promise<void>) | null = null;

  private joined = false;
  private everJoined = false;
  private assignment: Record<string, number[]> = {};
  private lastAnswerAt: number | null = null;
  private brokerAway: { since: number; error: string } | null = null;
  private gaveUp: { at: number; error: string } | null = null;
  private crashTimes: number[] = [];
  private lastCrash = '';
  private readonly failing = new Map<string, Failing>();
  private readonly resets: OffsetReset[] = [];
  /** The next offset to handle per partition, as far as this process knows (handled, committed, read). */
  private readonly positions = new Map<string, number>();
  private readonly lag = new Map<string, number>();
  private positionsRead: Promise<void> = Promise.resolve();
  private admin: Admin | null = null;
  private adminConnection: Promise<void> | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private lagRunning = false;

  constructor(private readonly options: ConsumerMonitorOptions) {}

  /**
   * Follows a consumer's instrumentation events; `admin` reads offsets (lag, what a reset skipped). The
   * group's committed offsets of `topics` are read at once, before the consumer joins: a reset that happens
   * on its first fetch is then counted from the offset the group had reached.
   */
  attach(consumer: Consumer, admin: Admin, topics: string[]): void {
    // A consumer started again (after a failed start) brings a new admin client.
    if (this.admin && this.adminConnection) void this.admin.disconnect().catch(() => undefined);
    this.adminConnection = null;
    this.admin = admin;
    const { events } = consumer;
    consumer.on(events.GROUP_JOIN, ({ payload }) => this.onJoin(payload.memberAssignment));
    consumer.on(events.CRASH, ({ payload }) => this.onCrash(payload.error, payload.restart));
    consumer.on(events.REQUEST, () => (this.lastAnswerAt = Date.now()));
    consumer.on(events.STOP, () => (this.joined = false));
    consumer.on(events.DISCONNECT, () => (this.joined = false));
    consumer.on(events.COMMIT_OFFSETS, ({ payload }) => {
      for (const { topic, partitions } of payload.topics)
        for (const { partition, offset } of partitions) this.advance(topic, partition, Number(offset));
    });
    this.positionsRead = this.readCommitted(topics).catch((err: unknown) =>
      this.logger.warn(`reading the group's committed offsets: ${describeError(err)}`),
    );
  }

  /** Every kafkajs log entry of the consumer's client passes here first: the only sign of a reset. */
  onLog(entry: LogEntry): void {
    const { message, topic, partition } = entry.log as {
      message: string;
      topic?: unknown;
      partition?: unknown;
    };
    if (message.startsWith(OFFSET_RESET_LOG) && typeof topic === 'string' && typeof partition === 'number')
      void this.onOffsetReset(topic, partition);
  }

  /** A message was handled (or dead-lettered): the partition moves on. */
  handled(topic: string, partition: number, offset: string): void {
    this.failing.delete(partitionKey(topic, partition));
    this.advance(topic, partition, Number(offset) + 1);
  }

  /** A message failed and will be tried again (or dead-lettered, which `handled` then reports). */
  failed(topic: string, partition: number, offset: string, verdict: FailureVerdict): void {
    this.failing.set(partitionKey(topic, partition), { offset, verdict });
    this.metrics?.handlerFailures.inc({ topic, fault: verdict.fault });
  }

  report(now = Date.now()): ConsumerReport {
    const fatal = this.fatal(now);
    const reasons = [...fatal];
    const outage: string[] = [];
    const joining: string[] = [];
    if (!this.everJoined && !this.gaveUp) {
      joining.push('the bus consumer has not joined its consumer group yet');
    } else if (!this.joined && !this.gaveUp) {
      outage.push(
        this.brokerAway
          ? `Kafka unreachable since ${iso(this.brokerAway.since)} (${this.brokerAway.error}); the consumer is reconnecting`
          : 'the bus consumer is rejoining its consumer group',
      );
    } else if (this.joined && this.lastAnswerAt !== null && now - this.lastAnswerAt > BROKER_SILENCE_MS) {
      outage.push(`no answer from Kafka for ${Math.round((now - this.lastAnswerAt) / 1000)} s`);
    }
    return { fatal, reasons, outage, joining, warnings: this.warnings(now) };
  }

  private fatal(now: number): string[] {
    if (this.gaveUp)
      return [
        `the bus consumer stopped for good at ${iso(this.gaveUp.at)} (${this.gaveUp.error}); kafkajs does not restart it`,
      ];
    const { crashes, windowSeconds } = this.settings.health.crashLoop;
    this.crashTimes = this.crashTimes.filter((t) => now - t <= windowSeconds * 1000);
    if (this.crashTimes.length >= crashes)
      return [
        `the bus consumer crashed ${this.crashTimes.length} times in ${windowSeconds} s (last: ${this.lastCrash})`,
      ];
    return [];
  }

  private warnings(now: number): string[] {
    const warnings: string[] = [];
    const { attempts } = this.settings.redelivery;
    for (const [key, { offset, verdict }] of this.failing) {
      const [topic, partition] = key.split('|');
      const progress =
        verdict.fault === 'message'
          ? `attempt ${verdict.attempts} of ${attempts} failed`
          : `${verdict.failures} failures of what it depends on, retried until it recovers`;
      warnings.push(
        `${topic}[${partition}] offset ${offset}: handling fails since ${iso(verdict.since)} (${progress}): ${verdict.error}`,
      );
    }
    const { maxLag, offsetResetWarningSeconds } = this.settings.health;
    for (const [key, lag] of this.lag) {
      const [topic, partition] = key.split('|');
      if (lag > maxLag) warnings.push(`${topic}[${partition}] is ${lag} messages behind (bound ${maxLag})`);
    }
    for (const reset of this.resets) {
      if (now - reset.at <= offsetResetWarningSeconds * 1000)
        warnings.push(`offset reset at ${iso(reset.at)}: ${reset.description}`);
    }
    if (this.joined && Object.values(this.assignment).every((p) => p.length === 0))
      warnings.push('no partitions assigned to this instance (more instances than partitions?)');
    return warnings;
  }

  /** Stops the lag refresh and the admin client (the server is closing). */
  async close(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
    this.joined = false;
    const admin = this.admin;
    this.admin = null;
    if (admin && this.adminConnection) await admin.disconnect().catch(() => undefined);
  }

  private onJoin(assignment: Record<string, number[]>): void {
    this.joined = true;
    this.everJoined = true;
    this.brokerAway = null;
    this.assignment = assignment;
    for (const key of [...this.lag.keys()]) {
      const [topic, partition] = key.split('|');
      if (!assignment[topic!]?.includes(Number(partition))) this.lag.delete(key);
    }
    if (!this.lagTimer) {
      this.lagTimer = setInterval(() => void this.refreshLag(), LAG_EVERY_MS);
      this.lagTimer.unref();
    }
  }

  private onCrash(error: Error, restart: boolean): void {
    const now = Date.now();
    const text = describeError(error);
    const broker = isBrokerOutage(error);
    this.joined = false;
    this.metrics?.crashes.inc({ cause: broker ? 'broker' : 'other', restarted: String(restart) });
    if (!restart) {
      this.gaveUp = { at: now, error: text };
      this.logger.error(`the bus consumer stopped for good: ${text}`);
    } else if (broker) {
      this.brokerAway = { since: this.brokerAway?.since ?? now, error: text };
      this.logger.warn(`Kafka unreachable, the consumer reconnects: ${text}`);
    } else {
      this.crashTimes.push(now);
      this.lastCrash = text;
      this.logger.error(`the bus consumer crashed and restarts: ${text}`);
    }
  }

  private advance(topic: string, partition: number, next: number): void {
    if (!Number.isSafeInteger(next) || next < 0) return;
    const key = partitionKey(topic, partition);
    if ((this.positions.get(key) ?? -1) < next) this.positions.set(key, next);
  }

  private async connectedAdmin(): Promise<Admin> {
    if (!this.admin) throw new Error('the consumer has closed');
    const admin = this.admin;
    this.adminConnection ??= admin.connect().catch((err: unknown) => {
      this.adminConnection = null;
      throw err;
    });
    await this.adminConnection;
    return admin;
  }

  private async readCommitted(topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    const admin = await this.connectedAdmin();
    const committed = await admin.fetchOffsets({ groupId: this.options.groupId, topics });
    for (const { topic, partitions } of committed)
      for (const { partition, offset } of partitions) this.advance(topic, partition, Number(offset));
  }

  private async onOffsetReset(topic: string, partition: number): Promise<void> {
    const at = Date.now();
    const key = partitionKey(topic, partition);
    await this.positionsRead;
    const from = this.positions.get(key) ?? null;
    let low: number | null = null;
    let high: number | null = null;
    try {
      const offsets = await (await this.connectedAdmin()).fetchTopicOffsets(topic);
      const p = offsets.find((o) => o.partition === partition);
      if (p) [low, high] = [Number(p.low), Number(p.high)];
    } catch (err) {
      this.logger.warn(`reading ${topic}'s offsets after a reset: ${describeError(err)}`);
    }
    const reset = describeReset(
      { topic, partition, from, low, high, fromBeginning: this.options.fromBeginning },
      at,
    );
    this.resets.push(reset);
    if (this.resets.length > KEEP_RESETS) this.resets.shift();
    // It resumes at the reset's target: a later reset counts from there.
    this.positions.delete(key);
    if (reset.to !== null) this.advance(topic, partition, reset.to);
    this.metrics?.offsetResets.inc({ topic });
    if (reset.skipped) this.metrics?.skippedMessages.inc({ topic }, reset.skipped);
    this.logger.error(`offset out of range: ${reset.description}`);
    await this.onReset?.(reset).catch((err: unknown) =>
      this.logger.error(`recording the offset reset on the dead-letter topic: ${describeError(err)}`),
    );
  }

  private async refreshLag(): Promise<void> {
    if (this.lagRunning || !this.joined) return;
    this.lagRunning = true;
    try {
      const topics = Object.keys(this.assignment).filter((t) => this.assignment[t]!.length > 0);
      await this.readCommitted(topics);
      const admin = await this.connectedAdmin();
      for (const topic of topics) {
        for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
          if (!this.assignment[topic]!.includes(partition)) continue;
          const start = this.options.fromBeginning ? Number(low) : Number(high);
          const position = Math.max(this.positions.get(partitionKey(topic, partition)) ?? start, Number(low));
          const lag = Math.max(0, Number(high) - position);
          this.lag.set(partitionKey(topic, partition), lag);
          this.metrics?.lag.set({ topic, partition: String(partition) }, lag);
        }
      }
    } catch (err) {
      this.logger.debug(`reading the consumer's lag: ${describeError(err)}`);
    } finally {
      this.lagRunning = false;
    }
  }
}
