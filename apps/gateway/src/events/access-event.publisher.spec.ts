import { TOPICS, type AccessEvent, type EventOf, type EventTopic } from '@stepgate/contracts';
import { MessageBus, RequestTimeoutError } from '@stepgate/kafka';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../health/gateway.metrics';
import { AccessEventPublisher, type AccessEventSettings } from './access-event.publisher';

const event = (n: number): AccessEvent => ({
  eventId: `e-${n}`,
  time: new Date().toISOString(),
  correlationId: `c-${n}`,
  subject: `s-${n % 7}`,
  sessionId: null,
  deviceId: null,
  deviceSource: null,
  clientIp: '192.0.2.1',
  userAgent: 'spec',
  method: 'GET',
  host: 'example.test',
  path: `/api/${n}`,
  route: 'reports',
  decision: 'allow',
  reason: 'allowed',
  status: 200,
  riskScore: null,
  riskLevel: null,
  acr: null,
  policyVersion: null,
  monitored: false,
  steppedUp: false,
});

/** A broker that is up, away (sends wait, as kafkajs does while it retries), or refusing (retries exhausted). */
class FakeBus extends MessageBus {
  mode: 'up' | 'away' | 'refusing' = 'up';
  readonly published: string[] = [];
  private waiting: (() => void)[] = [];

  async publish(): Promise<void> {}
  async follow(): Promise<() => Promise<void>> {
    return async () => {};
  }
  async request(): Promise<never> {
    throw new RequestTimeoutError('x', 1);
  }
  async publishBatch<T extends EventTopic>(topic: T, values: EventOf<T>[]): Promise<void> {
    expect(topic).toBe(TOPICS.access);
    if (this.mode === 'refusing') throw new Error('KafkaJSNumberOfRetriesExceeded');
    if (this.mode === 'away') await new Promise<void>((r) => this.waiting.push(r));
    this.published.push(...(values as AccessEvent[]).map((e) => e.eventId));
  }
  /** The broker is back: what waited is acknowledged in the order it was sent. */
  back(): void {
    this.mode = 'up';
    for (const release of this.waiting.splice(0)) release();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

describe(AccessEventPublisher.name, () => {
  const started: AccessEventPublisher[] = [];
  const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `e-${from + i}`);

  async function publisher(bus: MessageBus, settings: Partial<AccessEventSettings> & { dir?: string } = {}) {
    const dir = settings.dir ?? (await mkdtemp(join(tmpdir(), 'stepgate-events-')));
    const metrics = new GatewayMetrics();
    const sut = new AccessEventPublisher(bus, metrics, {
      memoryEvents: 1000,
      spill: { dirs: [dir], maxBytes: 1 << 20, segmentBytes: 64 * 1024, fsyncIntervalMs: 0 },
      shutdownFlushMs: 200,
      ...settings,
    });
    await sut.onModuleInit();
    started.push(sut);
    return { sut, metrics, dir };
  }
  const count = async (metrics: GatewayMetrics, result: string) =>
    (await metrics.accessEvents.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  afterEach(async () => {
    await Promise.allSettled(started.splice(0).map((p) => p.onApplicationShutdown()));
  });

  it('spills past the memory bound while Kafka is away and publishes everything, in order, when it returns', async () => {
    const bus = new FakeBus();
    const { sut, metrics } = await publisher(bus);
    bus.mode = 'away';
    for (let n = 0; n < 3000; n++) sut.publish(event(n));
    await until('2,000 spilled', () => sut.status().spill.events === 2000);
    expect(sut.status().memory.inFlight + sut.status().memory.buffered).toBe(1000);
    // Spilled events stay behind: nothing new goes to memory while the file holds any.
    sut.publish(event(3000));
    await until('2,001 spilled', () => sut.status().spill.events === 2001);

    bus.back();
    await until('all published', async () => (await count(metrics, 'published')) === 3001);
    expect(bus.published).toEqual(ids(0, 3001));
    expect(sut.status().spill.events).toBe(0);
    expect(await count(metrics, 'dropped')).toBe(0);
    expect(await count(metrics, 'published')).toBe(3001);
    // Back to the memory path.
    sut.publish(event(3001));
    await until('the next one', () => bus.published.length === 3002);
    expect(sut.status().spill.events).toBe(0);
  });

  it('refuses an event that breaks the contract by itself: its batch goes to Kafka without it', async () => {
    const bus = new FakeBus();
    const { sut, metrics } = await publisher(bus);
    for (let n = 0; n < 10; n++)
      sut.publish(n === 4 ? { ...event(n), subject: 'nul\u0000in-a-claim' } : event(n));
    await until('the rest published', async () => (await count(metrics, 'published')) === 9);
    expect(bus.published).toEqual(ids(0, 10).filter((id) => id !== 'e-4'));
    expect(await count(metrics, 'invalid')).toBe(1);
    expect(sut.status().spill.events).toBe(0);
    // Not a loss the gateway must report as not ready for: nothing Kafka could take was dropped.
    expect(await count(metrics, 'dropped')).toBe(0);
    expect(sut.readinessReasons()).toEqual([]);
  });

  it('spills a batch Kafka refused after its retries, and publishes it when Kafka takes events again', async () => {
    const bus = new FakeBus();
    const { sut, metrics } = await publisher(bus);
    bus.mode = 'refusing';
    for (let n = 0; n < 10; n++) sut.publish(event(n));
    await until('spilled', () => sut.status().spill.events === 10);
    expect(await count(metrics, 'failed')).toBe(10);
    // Replays retry with a backoff until the broker answers.
    bus.mode = 'up';
    await until('published', () => bus.published.length === 10, 10_000);
    expect(bus.published).toEqual(ids(0, 10));
  });

  it('drops past the spill bound, counts it and says so for readiness, until the backlog is published', async () => {
    const bus = new FakeBus();
    const { sut, metrics } = await publisher(bus, { memoryEvents: 10, spill: null });
    expect(sut.readinessReasons()).toEqual([]);
    bus.mode = 'away';
    for (let n = 0; n < 15; n++) sut.publish(event(n));
    expect(await count(metrics, 'dropped')).toBe(5);
    expect(sut.readinessReasons()[0]).toMatch(/access events dropped .* no spill file/);

    const away = new FakeBus();
    away.mode = 'away';
    const bounded = await publisher(away, {
      memoryEvents: 1,
      spill: {
        dirs: [await mkdtemp(join(tmpdir(), 'stepgate-events-'))],
        maxBytes: 4096,
        segmentBytes: 65536,
        fsyncIntervalMs: 0,
      },
    });
    for (let n = 0; n < 20; n++) bounded.sut.publish(event(n));
    await until('full', () => bounded.sut.status().spill.full);
    expect(bounded.sut.readinessReasons()[0]).toMatch(/spill file full \(4096 bytes/);
    const spilled = bounded.sut.status().spill.events;
    expect(spilled).toBeGreaterThan(3);
    expect(await count(bounded.metrics, 'dropped')).toBe(20 - 1 - spilled);

    away.back();
    await until('published', () => away.published.length === 1 + spilled);
    expect(bounded.sut.status().spill.full).toBe(false);
    expect(bounded.sut.readinessReasons()[0]).toMatch(/access events dropped in the last/);
  });

  it('at shutdown spills what Kafka did not take in time; the next start publishes it', async () => {
    const away = new FakeBus();
    away.mode = 'away';
    const { sut, dir } = await publisher(away, { memoryEvents: 100 });
    for (let n = 0; n < 250; n++) sut.publish(event(n));
    await sut.drain();
    started.splice(started.indexOf(sut), 1);
    expect(sut.status().spill.events).toBe(250);
    expect(sut.status().dropped).toBe(0);

    const bus = new FakeBus();
    await publisher(bus, { dir });
    await until('replayed', () => bus.published.length === 250);
    // The 100 sent from memory went to the file at the deadline, after the 150 already there.
    expect(bus.published).toEqual([...ids(100, 250), ...ids(0, 100)]);
  });

  it('at shutdown with Kafka up publishes everything and leaves nothing behind', async () => {
    const bus = new FakeBus();
    const { sut, dir } = await publisher(bus);
    for (let n = 0; n < 1234; n++) sut.publish(event(n));
    await sut.drain();
    started.splice(started.indexOf(sut), 1);
    expect(bus.published).toEqual(ids(0, 1234));
    const next = new FakeBus();
    const { sut: again } = await publisher(next, { dir });
    expect(again.status().spill.events).toBe(0);
  });
});
