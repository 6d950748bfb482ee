import { EventEmitter } from 'node:events';
import type { Admin, Consumer } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import { BusMetrics } from './bus-metrics';
import { ConsumerMonitor } from './consumer-monitor';
import { consumerSettingsOf } from './consumer-settings';
import type { OffsetReset } from './offset-resets';

const EVENTS = {
  GROUP_JOIN: 'consumer.group_join',
  CRASH: 'consumer.crash',
  REQUEST: 'consumer.network.request',
  STOP: 'consumer.stop',
  DISCONNECT: 'consumer.disconnect',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
};

/** A kafkajs consumer as far as the monitor sees it: its instrumentation events. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const consumer = {
    events: EVENTS,
    on: (event: string, listener: (e: unknown) => void) => emitter.on(event, listener),
  } as unknown as Consumer;
  const emit = (event: keyof typeof EVENTS, payload: object) => emitter.emit(EVENTS[event], { payload });
  return { consumer, emit };
}

function fakeAdmin(offsets: { low: string; high: string }, committed = '-1') {
  return {
    connect: vi.fn(async () => {}),
    disconnect: vi.fn(async () => {}),
    fetchOffsets: vi.fn(async ({ topics }: { topics: string[] }) =>
      topics.map((topic) => ({
        topic,
        partitions: [0, 1].map((partition) => ({ partition, offset: committed })),
      })),
    ),
    fetchTopicOffsets: vi.fn(async () =>
      [0, 1].map((partition) => ({ partition, offset: offsets.high, ...offsets })),
    ),
  } as unknown as Admin;
}

const brokerAway = () =>
  Object.assign(new Error('retries exceeded'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    cause: Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
    }),
  });

function monitor(admin = fakeAdmin({ low: '0', high: '0' })) {
  const sut = new ConsumerMonitor({ groupId: 'g', fromBeginning: true });
  sut.settings = consumerSettingsOf({
    redelivery: { attempts: 3, backoffMs: 100, maxBackoffMs: 1000 },
    health: { maxLag: 100, crashLoop: { crashes: 3, windowSeconds: 60 }, offsetResetWarningSeconds: 600 },
  });
  sut.metrics = new BusMetrics();
  const { consumer, emit } = fakeConsumer();
  sut.attach(consumer, admin, ['t']);
  return { sut, emit, admin };
}

const join = { memberAssignment: { t: [0, 1] } };

describe(ConsumerMonitor.name, () => {
  it('reports not having joined yet before it first joins; reports Kafka being away after that as an outage, never a restart', () => {
    const { sut, emit } = monitor();
    expect(sut.report().joining).toEqual(['the bus consumer has not joined its consumer group yet']);
    expect(sut.report().reasons).toEqual([]);

    emit('GROUP_JOIN', join);
    emit('REQUEST', {});
    expect(sut.report()).toEqual({ fatal: [], reasons: [], outage: [], joining: [], warnings: [] });

    for (let i = 0; i < 10; i++) emit('CRASH', { error: brokerAway(), restart: true });
    const away = sut.report();
    expect(away.fatal).toEqual([]);
    expect(away.reasons).toEqual([]);
    expect(away.outage).toEqual([
      expect.stringMatching(
        /^Kafka unreachable since \S+ \(KafkaJSNumberOfRetriesExceeded: retries exceeded, caused by KafkaJSConnectionError: Connection error: connect ECONNREFUSED\); the consumer is reconnecting$/,
      ),
    ]);

    emit('GROUP_JOIN', join);
    expect(sut.report().outage).toEqual([]);
  });

  it('reports an outage when Kafka has not answered for a while, even before kafkajs gives up on a fetch', () => {
    const { sut, emit } = monitor();
    emit('GROUP_JOIN', join);
    emit('REQUEST', {});
    expect(sut.report(Date.now() + 31_000).outage).toEqual([
      expect.stringMatching(/^no answer from Kafka for 3\d s$/),
    ]);
  });

  it('asks for a restart when it crashes in a loop, and forgets crashes older than the window', () => {
    const { sut, emit } = monitor();
    emit('GROUP_JOIN', join);
    const bug = new Error('UNKNOWN_MEMBER_ID over and over');
    for (let i = 0; i < 3; i++) {
      emit('CRASH', { error: bug, restart: true });
      emit('GROUP_JOIN', join);
    }
    expect(sut.report().fatal).toEqual([
      'the bus consumer crashed 3 times in 60 s (last: Error: UNKNOWN_MEMBER_ID over and over)',
    ]);
    expect(sut.report(Date.now() + 61_000).fatal).toEqual([]);
  });

  it('asks for a restart for good once kafkajs gives up on the consumer', () => {
    const { sut, emit } = monitor();
    emit('GROUP_JOIN', join);
    emit('CRASH', { error: new Error('INVALID_REQUEST'), restart: false });
    expect(sut.report().fatal).toEqual([
      expect.stringMatching(
        /^the bus consumer stopped for good at .* \(Error: INVALID_REQUEST\); kafkajs does not restart it$/,
      ),
    ]);
    expect(sut.report(Date.now() + 86_400_000).fatal).toHaveLength(1);
  });

  it('warns while a partition retries a message, and stops once it is handled', () => {
    const { sut, emit } = monitor();
    emit('GROUP_JOIN', join);
    sut.failed('t', 1, '7', {
      attempts: 1,
      failures: 1,
      fault: 'message',
      error: 'QueryFailedError [P0001]: no',
      since: Date.parse('2026-01-01T00:00:00Z'),
      exhausted: false,
      retryInMs: 100,
    });
    expect(sut.report().warnings).toEqual([
      't[1] offset 7: handling fails since 2026-01-01T00:00:00.000Z (attempt 1 of 3 failed): QueryFailedError [P0001]: no',
    ]);
    sut.handled('t', 1, '7');
    expect(sut.report().warnings).toEqual([]);
  });

  it('records what an offset reset skipped from the offset the group had reached, counts it and warns', async () => {
    const admin = fakeAdmin({ low: '50', high: '80' }, '12');
    const { sut, emit } = monitor(admin);
    const recorded: OffsetReset[] = [];
    sut.onReset = async (reset) => void recorded.push(reset);
    emit('GROUP_JOIN', join);
    // What kafkajs logs, and all it does, when a fetch is out of range.
    sut.onLog({
      namespace: 'ConsumerGroup',
      level: 1,
      label: 'ERROR',
      log: {
        message: 'Offset out of range, resetting to default offset',
        topic: 't',
        partition: 1,
        timestamp: '',
      },
    });
    await vi.waitFor(() => expect(recorded).toHaveLength(1));

    expect(recorded[0]).toMatchObject({ topic: 't', partition: 1, from: 12, to: 50, skipped: 38 });
    expect(sut.report().warnings).toEqual([
      expect.stringMatching(/^offset reset at .*: t\[1\]: offsets 12 to 49 \(38\) deleted by retention/),
    ]);
    expect(sut.report(Date.now() + 601_000).warnings).toEqual([]);
    expect((await sut.metrics!.offsetResets.get()).values).toEqual([{ labels: { topic: 't' }, value: 1 }]);
    expect((await sut.metrics!.skippedMessages.get()).values).toEqual([
      { labels: { topic: 't' }, value: 38 },
    ]);
    await sut.close();
  });

  it('warns about assigned partitions further behind than the bound', async () => {
    const admin = fakeAdmin({ low: '0', high: '500' }, '40');
    const { sut, emit } = monitor(admin);
    emit('GROUP_JOIN', { memberAssignment: { t: [0] } });
    sut.handled('t', 0, '99');
    await (sut as unknown as { refreshLag(): Promise<void> }).refreshLag();
    expect(sut.report().warnings).toEqual(['t[0] is 400 messages behind (bound 100)']);
    expect((await sut.metrics!.lag.get()).values).toEqual([
      { labels: { topic: 't', partition: '0' }, value: 400 },
    ]);
    await sut.close();
  });
});
