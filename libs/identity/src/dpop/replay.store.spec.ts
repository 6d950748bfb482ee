import { describe, expect, it } from 'vitest';
import { ReplayStoreUnavailableError } from './dpop.errors';
import { MemoryReplayStore, replayKeyOf } from './replay.store';

describe(MemoryReplayStore.name, () => {
  const t0 = 1_700_000_000_000;

  it('claims a key once until it expires, then again', async () => {
    let now = t0;
    const sut = new MemoryReplayStore({ now: () => now });
    const expiresAt = t0 / 1000 + 65;
    expect(await sut.claim('k', expiresAt)).toBe(true);
    expect(await sut.claim('k', expiresAt)).toBe(false);
    now = t0 + 64_000;
    expect(await sut.claim('k', expiresAt)).toBe(false);
    now = t0 + 65_000;
    expect(await sut.claim('k', expiresAt + 65)).toBe(true);
  });

  it('holds a claim whose expiry has already passed for a second', async () => {
    let now = t0;
    const sut = new MemoryReplayStore({ now: () => now });
    expect(await sut.claim('k', t0 / 1000 - 10)).toBe(true);
    expect(await sut.claim('k', t0 / 1000 - 10)).toBe(false);
    now += 1000;
    expect(await sut.claim('k', t0 / 1000 - 10)).toBe(true);
  });

  it('fails closed when full of live entries: never forgets one to make room', async () => {
    let now = t0;
    const sut = new MemoryReplayStore({ maxEntries: 3, sweepIntervalMs: 0, now: () => now });
    for (const key of ['a', 'b', 'c']) expect(await sut.claim(key, t0 / 1000 + 60)).toBe(true);
    await expect(sut.claim('d', t0 / 1000 + 60)).rejects.toBeInstanceOf(ReplayStoreUnavailableError);
    // Every live key is still known: a replay is refused, not admitted.
    for (const key of ['a', 'b', 'c']) expect(await sut.claim(key, t0 / 1000 + 60)).toBe(false);
    // Once entries expire, the sweep makes room again.
    now += 60_000;
    expect(await sut.claim('d', t0 / 1000 + 120)).toBe(true);
    expect(sut.size).toBe(1);
  });

  it('sweeps expired entries at most once per interval when full', async () => {
    let now = t0;
    const sut = new MemoryReplayStore({ maxEntries: 2, sweepIntervalMs: 1000, now: () => now });
    await sut.claim('a', t0 / 1000 + 1);
    await sut.claim('b', t0 / 1000 + 10);
    await expect(sut.claim('c', t0 / 1000 + 10)).rejects.toThrow(ReplayStoreUnavailableError);
    now += 999; // 'a' has not expired yet, and the last sweep was just now
    await expect(sut.claim('c', t0 / 1000 + 10)).rejects.toThrow(ReplayStoreUnavailableError);
    now += 1; // 'a' expired, one interval passed: swept
    expect(await sut.claim('c', t0 / 1000 + 10)).toBe(true);
  });

  it('refuses keys that are not bounded strings', async () => {
    const sut = new MemoryReplayStore();
    await expect(sut.claim('', 1)).rejects.toThrow(TypeError);
    await expect(sut.claim('k'.repeat(257), 1)).rejects.toThrow(TypeError);
  });
});

describe(replayKeyOf.name, () => {
  it('is 43 base64url characters whatever the jti, distinct per key and jti', () => {
    const jkt = 'A'.repeat(43);
    expect(replayKeyOf(jkt, 'x'.repeat(256))).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(replayKeyOf(jkt, 'j')).not.toBe(replayKeyOf('B'.repeat(43), 'j'));
    expect(replayKeyOf(jkt, 'j')).not.toBe(replayKeyOf(jkt, 'k'));
    expect(replayKeyOf(jkt, 'j')).toBe(replayKeyOf(jkt, 'j'));
  });
});
