import type { PolicyVersion } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';
import { describe, expect, it, vi } from 'vitest';
import { PolicyFollower, type Adoption } from './policy.follower';

describe(PolicyFollower.name, () => {
  const published = (version: number, value: unknown, over: Partial<PolicyVersion> = {}): PolicyVersion => ({
    lineage: 'a1b2c3d4e5f60718',
    version,
    hash: '0'.repeat(64),
    document: { policy: { value }, risk: {} },
    author: 'alice',
    source: 'api',
    restores: null,
    comment: null,
    createdAt: '2026-11-28T10:00:00Z',
    ...over,
  });
  // Adopts a document whose value is a number; refuses anything else.
  const adopt = (p: PolicyVersion): Adoption<number> => {
    const { value } = p.document.policy;
    return typeof value === 'number'
      ? { ok: true, active: value }
      : { ok: false, problems: 'value: not a number' };
  };
  const setup = () => {
    const logger = { log: vi.fn(), error: vi.fn() };
    const onRejected = vi.fn();
    const sut = new PolicyFollower({ initial: 0, adopt, describe: (n) => `n=${n}`, logger, onRejected });
    return { sut, logger, onRejected };
  };

  it('starts on the initial policy, with no published version', () => {
    const { sut } = setup();
    expect(sut.current).toBe(0);
    expect(sut.version).toBeNull();
  });

  it('swaps in newer versions only and tells the listeners, in order', () => {
    const { sut, logger } = setup();
    const seen: string[] = [];
    sut.onChange((n) => seen.push(`a${n}`));
    const off = sut.onChange((n) => seen.push(`b${n}`));
    expect(sut.apply(published(2, 20))).toBe(true);
    expect(logger.log).toHaveBeenLastCalledWith('policy version file -> 2 in force (n=0 -> n=20), by alice');
    off();
    expect(sut.apply(published(2, 21))).toBe(false);
    expect(sut.apply(published(1, 10))).toBe(false);
    expect(sut.apply(published(3, 30))).toBe(true);
    expect(sut.current).toBe(30);
    expect(sut.version).toBe(3);
    expect(seen).toEqual(['a20', 'b20', 'a30']);
  });

  it('keeps the policy in force when a version is not adopted, and says why', () => {
    const { sut, logger, onRejected } = setup();
    const seen = vi.fn();
    sut.onChange(seen);
    const bad = published(2, 'x');
    expect(sut.apply(bad)).toBe(false);
    expect(sut.current).toBe(0);
    expect(onRejected).toHaveBeenCalledWith(bad, 'value: not a number');
    expect(logger.error).toHaveBeenCalledWith(
      'policy version 2 rejected, keeping the file: value: not a number',
    );
    expect(seen).not.toHaveBeenCalled();
    // A refused version is not in force: the same number, adoptable, still applies.
    expect(sut.apply(published(2, 20))).toBe(true);
  });

  it('follows the policy topic until stopped', async () => {
    const { sut } = setup();
    const unfollow = vi.fn(async () => undefined);
    let handler: ((v: PolicyVersion) => unknown) | undefined;
    const bus = {
      follow: vi.fn(async (_topic: string, h: (v: PolicyVersion) => unknown) => {
        handler = h;
        return unfollow;
      }),
    };
    await sut.follow(bus as unknown as Pick<MessageBus, 'follow'>);
    expect(bus.follow).toHaveBeenCalledWith('stepgate.policy.v1', expect.any(Function));
    await handler!(published(4, 40));
    expect(sut.current).toBe(40);
    await sut.stop();
    expect(unfollow).toHaveBeenCalledTimes(1);
  });
});
