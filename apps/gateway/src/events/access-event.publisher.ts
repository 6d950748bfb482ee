// Publishes one access event per request without ever blocking the request path, and keeps every one it
// accepted while Kafka is away. Events go to Kafka in batches from a bounded memory buffer; past that bound,
// and when Kafka refuses a batch after the producer's retries, they go to the spill file (spill-file.ts) and
// are published from there, in the order they were spilled, once Kafka takes them again. While the spill file
// holds any, new events queue behind them there; a batch Kafka refused after its retries is spilled behind
// younger ones, and with several batches in flight a later one may reach Kafka first (adr/0017). Past the
// spill file's bound, new events are dropped: counted, logged and reported as a readiness warning. Shutdown
// (after the HTTP server closed, before the bus disconnects) gives Kafka a deadline and spills the rest.
// docs/OPERATIONS.md, "The access-event spill file".
import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { checkedEvent, type MessageBus } from '@stepgate/kafka';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayConfig } from '../config';
import type { GatewayMetrics } from '../health/gateway.metrics';
import { SpillFile, SpillLockedError, type SpillOptions } from './spill-file';

/** One produce request per batch, like a Kafka producer's linger. */
const BATCH_SIZE = 500;
const LINGER_MS = 5;
/** Batches in flight at once: during an outage the buffer then fills up in large batches, not tiny requests. */
const MAX_BATCHES_IN_FLIGHT = 8;
/** Bytes read from the spill file per replayed batch (at most BATCH_SIZE events). */
const REPLAY_BYTES = 1024 * 1024;
/** Events waiting for the spill file's writer; more means the disk stalled, and they are dropped. */
const MAX_SPILL_QUEUE = 50_000;
/** How long a drop keeps the gateway not ready. */
const DROP_REPORT_MS = 30_000;
/** At most one log line per this many milliseconds about the same trouble. */
const LOG_EVERY_MS = 10_000;

export interface AccessEventSettings {
  /** Events held in memory (buffered, or sent and not yet acknowledged) before new ones go to the spill file. */
  memoryEvents: number;
  /** The spill file, in the first of `dirs` this process can lock; null: none (events past memory are dropped). */
  spill: (Omit<SpillOptions, 'dir'> & { dirs: string[] }) | null;
  /** At shutdown, how long the last events may wait for Kafka before the rest goes to the spill file. */
  shutdownFlushMs: number;
}

/**
 * The settings from the config section: the spill file under the data directory, `access-spill/`, or (when
 * another live gateway holds that, sharing the data directory) `access-spill-<instance id>/`.
 */
export function accessEventSettings(
  section: GatewayConfig['gateway']['accessEvents'],
  dataDir: string,
  instanceId: string,
): AccessEventSettings {
  const { maxBytes, segmentBytes, fsyncIntervalMs } = section.spill;
  const own = instanceId.replace(/[^A-Za-z0-9._-]/g, '_');
  return {
    memoryEvents: section.memoryEvents,
    spill:
      maxBytes === 0
        ? null
        : {
            dirs: [join(dataDir, 'access-spill'), join(dataDir, `access-spill-${own}`)],
            maxBytes,
            segmentBytes,
            fsyncIntervalMs,
          },
    shutdownFlushMs: section.shutdownFlushMs,
  };
}

export interface AccessEventStatus {
  /** Events in memory: waiting for a batch, and sent to Kafka but not yet acknowledged. */
  memory: { buffered: number; inFlight: number; limit: number };
  /** The spill file: where, how full, whether it refuses new events. `dir` null: there is none (`problem` says why). */
  spill: {
    dir: string | null;
    problem: string | null;
    events: number;
    bytes: number;
    limitBytes: number;
    full: boolean;
    corruptRecords: number;
  };
  /** Events lost since start (the spill file full or unavailable). */
  dropped: number;
}

interface Batch {
  readonly events: AccessEvent[];
  /** Spilled at shutdown while still unacknowledged: its outcome no longer matters. */
  abandoned: boolean;
}

export class AccessEventPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AccessEvents');
  private buffer: AccessEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly sending = new Set<Batch>();
  private inFlight = 0;
  private spill: SpillFile | null = null;
  private spillProblem: string | null = null;
  /** Serialised events for the spill file's writer, oldest first. */
  private spillQueue: string[] = [];
  /** Events handed to the writer and not yet written (or refused). */
  private spillPending = 0;
  private writing: Promise<void> | null = null;
  private replaying: Promise<void> | null = null;
  private full = false;
  private closed = false;
  private drained: Promise<void> | null = null;
  private readonly stop = new AbortController();
  private dropped = 0;
  private lastDrop = 0;
  private readonly lastLog = new Map<string, number>();

  constructor(
    private readonly bus: MessageBus,
    private readonly metrics: GatewayMetrics,
    private readonly settings: AccessEventSettings,
  ) {}

  /** Opens the spill file, and publishes what an earlier process left in it. */
  async onModuleInit(): Promise<void> {
    this.metrics.spillLimit.set(this.settings.spill?.maxBytes ?? 0);
    if (!this.settings.spill) {
      this.spillProblem = 'disabled (gateway.accessEvents.spill.maxBytes is 0)';
      return;
    }
    const { dirs, ...options } = this.settings.spill;
    for (const dir of dirs) {
      try {
        this.spill = await SpillFile.open({ ...options, dir }, (m) => this.logger.warn(m));
        break;
      } catch (err) {
        this.spillProblem = `${dir}: ${err instanceof Error ? err.message : String(err)}`;
        if (!(err instanceof SpillLockedError)) break;
      }
    }
    if (!this.spill) {
      this.logger.error(
        `no access-event spill file (${this.spillProblem}): events past memory will be dropped`,
      );
      return;
    }
    this.spillProblem = null;
    this.metrics.spillCorrupt.inc(this.spill.corruptRecords);
    this.showSpill();
    this.replay();
  }

  publish(candidate: AccessEvent): void {
    if (this.closed) {
      this.drop(1, 'published after shutdown');
      return;
    }
    // Checked alone, here: an event that breaks the contract (a token's claim Kafka must not carry, say) is
    // refused by itself, and never takes its batch through the spill file with it.
    let event: AccessEvent;
    try {
      event = checkedEvent(TOPICS.access, candidate);
    } catch (err) {
      this.metrics.accessEvents.inc({ result: 'invalid' });
      this.warn('invalid', `access event ${candidate.eventId} not published: ${String(err)}`, 'error');
      return;
    }
    // Behind what is already spilled, so the order holds; or past the memory bound.
    if (this.backlogged() || this.buffer.length + this.inFlight >= this.settings.memoryEvents) {
      this.toSpill([event]);
      return;
    }
    this.buffer.push(event);
    this.showMemory();
    if (this.buffer.length >= BATCH_SIZE) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), LINGER_MS);
  }

  status(): AccessEventStatus {
    return {
      memory: { buffered: this.buffer.length, inFlight: this.inFlight, limit: this.settings.memoryEvents },
      spill: {
        dir: this.spill?.dir ?? null,
        problem: this.spillProblem,
        events: (this.spill?.pendingRecords ?? 0) + this.spillPending,
        bytes: this.spill?.pendingBytes ?? 0,
        limitBytes: this.settings.spill?.maxBytes ?? 0,
        full: this.full,
        corruptRecords: this.spill?.corruptRecords ?? 0,
      },
      dropped: this.dropped,
    };
  }

  /** Why the gateway should not take traffic on account of its access events: it is losing them. */
  readinessReasons(): string[] {
    const reasons: string[] = [];
    if (this.full)
      reasons.push(
        `access-event spill file full (${this.settings.spill?.maxBytes} bytes in ${this.spill?.dir}): ` +
          'new access events are dropped until Kafka takes the backlog',
      );
    else if (this.lastDrop > 0 && Date.now() - this.lastDrop < DROP_REPORT_MS)
      reasons.push(
        `access events dropped in the last ${DROP_REPORT_MS / 1000} s (${this.dropped} since start): ` +
          (this.spill ? 'the spill file refused them' : `no spill file (${this.spillProblem})`),
      );
    return reasons;
  }

  /**
   * The last flush: once no request can publish any more (the gateway's bootstrap calls it when the HTTP server
   * has closed), before the producer disconnects. Kafka gets `shutdownFlushMs`; the rest goes to the spill
   * file, which is then closed. Once only.
   */
  drain(): Promise<void> {
    this.drained ??= this.flushForShutdown();
    return this.drained;
  }

  /** When the app closes without the bootstrap's hook; Nest runs it before the messaging module's. */
  onApplicationShutdown(): Promise<void> {
    return this.drain();
  }

  private async flushForShutdown(): Promise<void> {
    const started = Date.now();
    this.logger.log(
      `flushing ${this.buffer.length + this.inFlight} access events` +
        (this.backlogged() ? ` (and ${this.status().spill.events} in the spill file)` : ''),
    );
    this.flush();
    while (!this.settled() && Date.now() - started < this.settings.shutdownFlushMs) await sleep(20);
    this.closed = true;
    this.stop.abort();
    clearTimeout(this.timer);
    // What Kafka has not acknowledged by now goes to the spill file. The producer may still deliver some of
    // it before it disconnects: those are published twice, and risk ignores a repeated event id.
    const left = [...this.sending].filter((b) => !b.abandoned);
    for (const b of left) b.abandoned = true;
    const events = [...left.flatMap((b) => b.events), ...this.buffer];
    this.buffer = [];
    if (events.length > 0) {
      this.logger.warn(`Kafka did not take ${events.length} access events in time: spilling them`);
      this.toSpill(events, true);
    }
    await this.writing;
    const kept = this.spill?.pendingRecords ?? 0;
    await this.spill
      ?.close()
      .catch((err: unknown) => this.logger.error(`closing the spill file: ${String(err)}`));
    if (kept > 0) this.logger.warn(`${kept} access events stay in ${this.spill?.dir} for the next start`);
    this.showMemory();
  }

  private settled(): boolean {
    return this.buffer.length === 0 && this.sending.size === 0 && !this.backlogged();
  }

  private backlogged(): boolean {
    return this.spillPending > 0 || (this.spill?.pendingRecords ?? 0) > 0;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.buffer.length > 0 && this.sending.size < MAX_BATCHES_IN_FLIGHT) {
      const batch: Batch = { events: this.buffer.splice(0, BATCH_SIZE), abandoned: false };
      this.sending.add(batch);
      this.inFlight += batch.events.length;
      this.bus
        .publishBatch(TOPICS.access, batch.events)
        .then(
          () => this.metrics.accessEvents.inc({ result: 'published' }, batch.events.length),
          (err: unknown) => {
            if (batch.abandoned) return;
            this.metrics.accessEvents.inc({ result: 'failed' }, batch.events.length);
            this.warn(
              'failed',
              `Kafka refused ${batch.events.length} access events (${String(err)}): spilling them`,
            );
            this.toSpill(batch.events, true);
          },
        )
        .finally(() => {
          this.sending.delete(batch);
          this.inFlight -= batch.events.length;
          this.showMemory();
          if (this.buffer.length > 0 && !this.closed) this.flush();
        })
        .catch(() => undefined);
    }
  }

  /** Hands events to the spill file's writer (`older`: they were accepted before some already spilled). */
  private toSpill(events: AccessEvent[], older = false): void {
    if (!this.spill) return this.drop(events.length, `no spill file (${this.spillProblem})`);
    if (this.spillPending >= MAX_SPILL_QUEUE && !older)
      return this.drop(events.length, 'the spill file writer is behind (a stalled disk?)');
    for (const e of events) this.spillQueue.push(JSON.stringify(e));
    this.spillPending += events.length;
    this.writing ??= this.write(this.spill);
  }

  private async write(spill: SpillFile): Promise<void> {
    try {
      while (this.spillQueue.length > 0) {
        const records = this.spillQueue;
        this.spillQueue = [];
        const { written, refused } = await spill.append(records);
        this.spillPending -= records.length;
        this.metrics.accessEvents.inc({ result: 'spilled' }, written);
        if (refused === 'full') this.full = true;
        if (refused !== null)
          this.drop(
            records.length - written,
            refused === 'full'
              ? 'the spill file is full'
              : `writing the spill file failed: ${String(refused)}`,
          );
        this.showSpill();
        this.replay();
      }
    } finally {
      this.writing = null;
    }
  }

  /** Publishes the spill file from its start, one batch at a time, until it is empty; retries while Kafka is away. */
  private replay(): void {
    const spill = this.spill;
    if (this.replaying || !spill || this.closed || spill.pendingRecords === 0) return;
    this.replaying = (async () => {
      let backoff = 100;
      while (!this.closed && spill.pendingRecords > 0) {
        try {
          const batch = await spill.read(BATCH_SIZE, REPLAY_BYTES);
          const events = batch.records.flatMap((r) => parseEvent(r) ?? []);
          const invalid = batch.records.length - events.length;
          if (events.length > 0) await this.bus.publishBatch(TOPICS.access, events);
          // Published, but shut down meanwhile: they stay in the file, for the next start to publish again.
          if (this.closed) return;
          await spill.commit(batch.end);
          this.metrics.accessEvents.inc({ result: 'published' }, events.length);
          this.metrics.spillCorrupt.inc(batch.corrupt + invalid);
          if (invalid > 0)
            this.warn('invalid', `skipped ${invalid} spilled records that are not access events`);
          if (this.full && spill.pendingBytes < (this.settings.spill?.maxBytes ?? 0)) this.full = false;
          this.showSpill();
          backoff = 100;
          if (
            events.length === 0 &&
            batch.corrupt === 0 &&
            batch.records.length === 0 &&
            spill.pendingRecords > 0
          ) {
            // Nothing could be read though records are pending: do not spin.
            await sleep(backoff, undefined, { signal: this.stop.signal });
          }
        } catch (err) {
          if (this.closed) return;
          this.warn('replay', `publishing the spill file: ${String(err)}; retrying`);
          await sleep(backoff, undefined, { signal: this.stop.signal }).catch(() => undefined);
          backoff = Math.min(backoff * 2, 5000);
        }
      }
      if (!this.closed) this.logger.log('spill file published: access events go straight to Kafka again');
    })().finally(() => {
      this.replaying = null;
      // Appended after the loop saw it empty.
      if (!this.closed && spill.pendingRecords > 0) this.replay();
    });
  }

  private drop(count: number, why: string): void {
    if (count <= 0) return;
    this.dropped += count;
    this.lastDrop = Date.now();
    this.metrics.accessEvents.inc({ result: 'dropped' }, count);
    this.warn('dropped', `dropped ${count} access events: ${why} (${this.dropped} since start)`, 'error');
  }

  private warn(kind: string, message: string, level: 'warn' | 'error' = 'warn'): void {
    const now = Date.now();
    if (now - (this.lastLog.get(kind) ?? 0) < LOG_EVERY_MS) return;
    this.lastLog.set(kind, now);
    this.logger[level](message);
  }

  private showMemory(): void {
    this.metrics.eventBuffer.set(this.buffer.length + this.inFlight);
  }

  private showSpill(): void {
    this.metrics.spillBytes.set(this.spill?.pendingBytes ?? 0);
    this.metrics.spillEvents.set(this.spill?.pendingRecords ?? 0);
  }
}

/** A spilled record as a checked event (not validated again when published), or null when it is not one. */
function parseEvent(record: string): AccessEvent | null {
  try {
    return checkedEvent(TOPICS.access, JSON.parse(record));
  } catch {
    return null;
  }
}
