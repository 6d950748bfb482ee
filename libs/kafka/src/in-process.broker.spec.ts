import { describe, expect, it } from 'vitest';
import { InProcessBroker, type InProcessMessage } from './in-process.broker';

const message = (value: string) => ({ topic: 't', key: null, value, headers: {} });

describe(InProcessBroker.name, () => {
  it('hands a batch handler everything published while it was busy, in order, at most maxBatch at a time', async () => {
    const sut = new InProcessBroker();
    const batches: string[][] = [];
    let release!: () => void;
    const firstBatchHeld = new Promise<void>((r) => (release = r));
    sut.subscribeBatch(
      't',
      'g',
      async (messages: InProcessMessage[]) => {
        batches.push(messages.map((m) => m.value));
        if (batches.length === 1) await firstBatchHeld;
      },
      3,
    );

    sut.publish(message('a'));
    await Promise.resolve();
    for (const v of ['b', 'c', 'd', 'e']) sut.publish(message(v));
    release();
    await sut.drain();

    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('redelivers the whole batch when its handler fails', async () => {
    const sut = new InProcessBroker();
    const attempts: string[][] = [];
    sut.subscribeBatch(
      't',
      'g',
      async (messages: InProcessMessage[]) => {
        attempts.push(messages.map((m) => m.value));
        if (attempts.length === 1) throw new Error('database unavailable');
      },
      10,
    );

    sut.publish(message('a'));
    sut.publish(message('b'));
    await sut.drain();

    expect(attempts).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  it('keeps one-at-a-time groups beside batch groups on the same topic', async () => {
    const sut = new InProcessBroker();
    const one: string[] = [];
    const batched: string[][] = [];
    sut.subscribe('t', 'single', async (m) => {
      one.push(m.value);
    });
    sut.subscribeBatch('t', 'batch', async (ms) => void batched.push(ms.map((m) => m.value)), 100);

    sut.publish(message('a'));
    sut.publish(message('b'));
    await sut.drain();

    expect(one).toEqual(['a', 'b']);
    expect(batched).toEqual([['a', 'b']]);
  });

  it('replays the newest message per key of a compacted topic to a new follower, then what follows', async () => {
    const sut = new InProcessBroker();
    const compacted = (key: string, value: string) => ({
      topic: 'stepgate.policy.v1',
      key,
      value,
      headers: {},
    });
    sut.publish(compacted('policy', 'v1'));
    sut.publish(compacted('policy', 'v2'));
    sut.publish(message('not compacted'));
    const seen: string[] = [];
    sut.follow('stepgate.policy.v1', 'follower-1', async (m) => void seen.push(m.value));
    sut.follow('t', 'follower-2', async (m) => void seen.push(m.value));
    sut.publish(compacted('policy', 'v3'));
    await sut.drain();
    expect(seen).toEqual(['v2', 'v3']);
  });
});
