import type { MessageHandler } from '@nestjs/microservices';
import { TOPICS } from '@stepgate/contracts';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BATCH_EXTRAS, type ConsumedMessage } from './batch';
import { consumerSettingsOf } from './consumer-settings';
import { kafkaServerOptions } from './kafka.options';
import { BatchingServerKafka } from './kafka.server';

const TOPIC = 'stepgate.access.v3';

function message(offset: number, subject: string): KafkaMessage {
  return {
    offset: String(offset),
    key: Buffer.from(subject),
    value: Buffer.from(JSON.stringify({ subject })),
    timestamp: '0',
    attributes: 0,
    headers: {},
  };
}

/** One eachBatch call's payload: what the server resolved, and whether it paused the partition. */
function batchOf(messages: KafkaMessage[], topic = TOPIC) {
  const resolved: string[] = [];
  let paused = 0;
  const payload = {
    batch: { topic, partition: 3, messages },
    resolveOffset: (offset: string) => void resolved.push(offset),
    heartbeat: async () => {},
    pause: () => {
      paused++;
      return () => {};
    },
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
  return { payload, resolved, paused: () => paused };
}

function server(attempts: number) {
  const sut = new BatchingServerKafka(
    kafkaServerOptions(
      { brokers: ['127.0.0.1:1'], clientId: 'spec', groupId: 'spec-group', maxWaitMs: 10, idempotent: false },
      true,
    ),
  );
  sut.monitor.settings = consumerSettingsOf({ redelivery: { attempts, backoffMs: 10, maxBackoffMs: 10 } });
  const sent: { topic: string; value: Record<string, unknown> }[] = [];
  const producer = {
    send: vi.fn(async ({ topic, messages }: { topic: string; messages: { value: string }[] }) => {
      for (const m of messages) sent.push({ topic, value: JSON.parse(m.value) as Record<string, unknown> });
      return [];
    }),
    disconnect: async () => {},
  };
  (sut as unknown as { producer: typeof producer }).producer = producer;
  const handle = (payload: EachBatchPayload) =>
    (sut as unknown as { handleBatch(p: EachBatchPayload): Promise<void> }).handleBatch(payload);
  return { sut, sent, producer, handle };
}

/** A batch handler that refuses any batch holding `bad`, as one transaction would, and records its calls. */
function batchHandler(failure: (subject: string) => Error | undefined) {
  const calls: string[][] = [];
  const fn = (async (batch: ConsumedMessage[]) => {
    const subjects = batch.map((m) => (m.value as { subject: string }).subject);
    calls.push(subjects);
    for (const s of subjects) {
      const err = failure(s);
      if (err) throw err;
    }
  }) as unknown as MessageHandler;
  return { fn, calls };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

describe(BatchingServerKafka.name, () => {
  it('finds the failing message of a failed batch, applies the others and dead-letters it after its attempts', async () => {
    const { sut, sent, handle } = server(2);
    close = () => sut.close();
    const { fn, calls } = batchHandler((s) => (s === 'bad' ? new Error('the store refused it') : undefined));
    sut.addHandler(TOPIC, fn, true, BATCH_EXTRAS);
    const [good, bad, later] = [message(10, 'good'), message(11, 'bad'), message(12, 'later')];

    const first = batchOf([good, bad, later]);
    await handle(first.payload);
    // One at a time after the batch failed: the good one applies; the bad one waits for its next attempt.
    expect(calls).toEqual([['good', 'bad', 'later'], ['good'], ['bad']]);
    expect(first.resolved).toEqual(['10']);
    expect(first.paused()).toBe(1);
    expect(sent).toEqual([]);

    // Fetched again after the backoff, from the bad one.
    const second = batchOf([bad, later]);
    await handle(second.payload);
    expect(calls.slice(3)).toEqual([['bad'], ['later']]);
    expect(second.resolved).toEqual(['11', '12']);
    expect(sent).toEqual([
      {
        topic: TOPICS.deadLetter,
        value: expect.objectContaining({
          consumer: 'spec-group',
          topic: TOPIC,
          partition: 3,
          offset: '11',
          key: 'bad',
          value: '{"subject":"bad"}',
          reason: 'handler failed after 2 attempts: Error: the store refused it',
        }) as unknown,
      },
    ]);
  });

  it('retries an outage of what the handler depends on without counting it, and never dead-letters for it', async () => {
    const { sut, sent, handle } = server(2);
    close = () => sut.close();
    let down = true;
    const outage = Object.assign(new Error('the database system is shutting down'), { code: '57P03' });
    const { fn, calls } = batchHandler(() => (down ? outage : undefined));
    sut.addHandler(TOPIC, fn, true, BATCH_EXTRAS);
    const messages = [message(20, 'a'), message(21, 'b')];

    for (let i = 0; i < 5; i++) {
      const attempt = batchOf(messages);
      await handle(attempt.payload);
      expect(attempt.resolved).toEqual([]);
      expect(attempt.paused()).toBe(1);
    }
    expect(sent).toEqual([]);
    down = false;
    const recovered = batchOf(messages);
    await handle(recovered.payload);
    expect(recovered.resolved).toEqual(['20', '21']);
    expect(sent).toEqual([]);
    expect(calls).toHaveLength(7);
  });

  it('keeps a message whose dead letter could not be published, and publishes it later without running it again', async () => {
    const { sut, sent, producer, handle } = server(1);
    close = () => sut.close();
    const { fn, calls } = batchHandler(() => new Error('no'));
    sut.addHandler(TOPIC, fn, true, BATCH_EXTRAS);
    producer.send.mockRejectedValueOnce(
      Object.assign(new Error('broker away'), { name: 'KafkaJSConnectionError' }),
    );

    const first = batchOf([message(30, 'x')]);
    await handle(first.payload);
    expect(first.resolved).toEqual([]);
    expect(first.paused()).toBe(1);

    const second = batchOf([message(30, 'x')]);
    await handle(second.payload);
    expect(second.resolved).toEqual(['30']);
    expect(calls).toEqual([['x']]);
    expect(sent).toHaveLength(1);
  });

  it("gives event handlers on Nest's own path the same bounded redelivery", async () => {
    const { sut, sent, handle } = server(2);
    close = () => sut.close();
    const handler = vi.fn(async () => {
      throw new RangeError('cannot apply');
    });
    sut.addHandler(TOPICS.challengeOutcome, handler, true);

    const first = batchOf([message(40, 'o')], TOPICS.challengeOutcome);
    await handle(first.payload);
    expect(first.resolved).toEqual([]);
    const second = batchOf([message(40, 'o')], TOPICS.challengeOutcome);
    await handle(second.payload);
    expect(second.resolved).toEqual(['40']);
    expect(handler).toHaveBeenCalledTimes(2);
    expect(sent[0]?.value).toMatchObject({
      topic: TOPICS.challengeOutcome,
      reason: 'handler failed after 2 attempts: RangeError: cannot apply',
    });
  });
});
