import { Subject } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { BusMetrics } from './bus-metrics';
import { ConsumerHealth, livenessBody, MonitoredStatus, readinessBody } from './consumer-health';
import { ConsumerMonitor } from './consumer-monitor';
import { consumerSettingsOf } from './consumer-settings';
import type { MessagingOptions } from './message-bus';
import { TopicCompaction } from './topic-compaction';

const inProcess = { brokers: [] } as unknown as MessagingOptions;
const health = () => new ConsumerHealth(new BusMetrics(), new TopicCompaction(inProcess));

describe(ConsumerHealth.name, () => {
  it('is not live from a follower that stopped for good until it reconnects', () => {
    const status = new Subject<string>();
    const sut = health();
    sut.watch(status);

    status.next('connected');
    expect(sut.liveness()).toEqual([]);
    status.next('crashed');
    expect(sut.liveness()).toEqual(['a topic follower stopped for good (kafkajs does not restart it)']);
    // Rebalancing and disconnects are part of a live consumer's life; only a reconnect clears a crash.
    status.next('rebalancing');
    expect(sut.healthy).toBe(false);
    status.next('connected');
    expect(sut.healthy).toBe(true);
  });

  it("follows a server's monitor through its status stream, with the service's settings", async () => {
    const monitor = new ConsumerMonitor({ groupId: 'g', fromBeginning: true });
    const sut = health();
    const settings = consumerSettingsOf({
      redelivery: { attempts: 2, backoffMs: 10, maxBackoffMs: 20 },
      health: { maxLag: 5, crashLoop: { crashes: 2, windowSeconds: 60 }, offsetResetWarningSeconds: 60 },
    });
    sut.configure(settings);
    sut.watch(new MonitoredStatus(new Subject<string>(), monitor));

    expect(monitor.settings).toBe(settings);
    expect(monitor.metrics).toBe(sut.metrics);
    expect(await sut.readiness()).toEqual({
      reasons: ['the bus consumer has not joined its consumer group yet'],
      warnings: [],
    });
  });

  it('lets each service say whether Kafka being away makes it not ready or only warns', async () => {
    const monitor = new ConsumerMonitor({ groupId: 'g', fromBeginning: true });
    const sut = health();
    sut.watch(new MonitoredStatus(new Subject<string>(), monitor));
    vi.spyOn(monitor, 'report').mockReturnValue({
      fatal: [],
      reasons: [],
      outage: ['Kafka unreachable'],
      joining: [],
      warnings: ['lagging'],
    });

    expect(await sut.readiness()).toEqual({ reasons: ['Kafka unreachable'], warnings: ['lagging'] });
    expect(await sut.readiness({ brokerOutage: 'warning' })).toEqual({
      reasons: [],
      warnings: ['Kafka unreachable', 'lagging'],
    });
  });

  it('lets each service say whether a consumer that has not joined yet makes it not ready or only warns', async () => {
    const monitor = new ConsumerMonitor({ groupId: 'g', fromBeginning: true });
    const sut = health();
    sut.watch(new MonitoredStatus(new Subject<string>(), monitor));
    vi.spyOn(monitor, 'report').mockReturnValue({
      fatal: [],
      reasons: [],
      outage: [],
      joining: ['not joined'],
      warnings: [],
    });

    expect(await sut.readiness()).toEqual({ reasons: ['not joined'], warnings: [] });
    expect(await sut.readiness({ joining: 'warning' })).toEqual({ reasons: [], warnings: ['not joined'] });
  });

  it('answers in one shape: 200 or 503, reasons and warnings as plain strings', () => {
    expect(livenessBody([])).toEqual({ code: 200, body: { status: 'ok' } });
    expect(livenessBody(['x'])).toEqual({ code: 503, body: { status: 'unavailable', reasons: ['x'] } });
    expect(readinessBody({ reasons: [], warnings: [] })).toEqual({ code: 200, body: { status: 'ready' } });
    expect(readinessBody({ reasons: [], warnings: ['w'] })).toEqual({
      code: 200,
      body: { status: 'ready', warnings: ['w'] },
    });
    expect(readinessBody({ reasons: ['r'], warnings: [] })).toEqual({
      code: 503,
      body: { status: 'not_ready', reasons: ['r'] },
    });
  });
});
