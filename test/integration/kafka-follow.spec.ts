// MessageBus.follow over the Kafka protocol: a follower says when it has read what the topic held as it
// started (session revocations are only trusted from then on), and not before, even when the broker hangs.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS, type SessionRevoked } from '@stepgate/contracts';
import { KafkaMessageBus } from '@stepgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';

const revocation = (): SessionRevoked => ({
  sessionId: randomUUID(),
  subject: 'alice',
  revokedAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  reason: 'logout',
});

describe('following a topic over Kafka', { timeout: 120_000 }, () => {
  let kafka: KafkaForTests;
  const buses: KafkaMessageBus[] = [];
  const bus = (startWithoutBroker = false) => {
    const b = new KafkaMessageBus(
      {
        brokers: kafka.brokers.split(','),
        clientId: 'follow-spec',
        groupId: `follow-spec-${randomUUID()}`,
        maxWaitMs: 25,
        idempotent: false,
      },
      [],
      startWithoutBroker,
    );
    buses.push(b);
    return b;
  };
  /** Follows the topic; `caughtUp` resolves with what had been handled when the follower said so. */
  const follow = async (b: KafkaMessageBus, topic: typeof TOPICS.sessionRevoked) => {
    const seen: string[] = [];
    let done: (ids: string[]) => void = () => {};
    const caughtUp = new Promise<string[]>((resolve) => (done = resolve));
    const stop = await b.follow(topic, (e) => void seen.push(e.sessionId), {
      onCaughtUp: () => done([...seen]),
    });
    return { seen, caughtUp, stop };
  };
  const published: string[] = [];

  beforeAll(async () => {
    kafka = await startOwnKafka();
    if (!kafka.freeze)
      throw new Error('this spec freezes the broker: it needs the mock cluster, not KAFKA_BROKERS');
    const producer = bus();
    await producer.connect();
    for (let i = 0; i < 5; i++) {
      const r = revocation();
      await producer.publish(TOPICS.sessionRevoked, r);
      published.push(r.sessionId);
    }
  });

  afterAll(async () => {
    kafka?.thaw?.();
    for (const b of buses) await b.onApplicationShutdown();
    await kafka?.stop();
  });

  it('says it has caught up once everything the topic held at its start has been handled', async () => {
    const f = await follow(bus(), TOPICS.sessionRevoked);
    expect(new Set(await f.caughtUp)).toEqual(new Set(published));
    await f.stop();
  });

  it('has caught up at once on a topic that holds nothing', async () => {
    const f = await follow(bus(), 'stepgate.factor.changed.v1' as typeof TOPICS.sessionRevoked);
    expect(await f.caughtUp).toEqual([]);
    await f.stop();
  });

  it('does not say so while the broker hangs, and does once it answers again', async () => {
    kafka.freeze!();
    let caught = false;
    const f = await follow(bus(true), TOPICS.sessionRevoked);
    void f.caughtUp.then(() => (caught = true));
    await sleep(3000);
    expect(caught).toBe(false);
    expect(f.seen).toEqual([]);
    kafka.thaw!();
    expect(new Set(await f.caughtUp)).toEqual(new Set(published));
    await f.stop();
  });
});
