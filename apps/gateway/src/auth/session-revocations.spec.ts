import { TOPICS, type SessionRevoked } from '@stepgate/contracts';
import { InProcessBroker, InProcessMessageBus, type MessageBus } from '@stepgate/kafka';
import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from './session';
import { SessionRevocations } from './session-revocations';

const START_MS = 1_800_000_000_000;
const LIFETIME = 3600;

function session(sid: string, createdAt = START_MS / 1000): Session {
  return {
    sid,
    sub: 'alice',
    accessToken: 'at',
    stepUpToken: null,
    acr: null,
    authTime: null,
    createdAt,
    seenAt: createdAt,
  };
}

describe(SessionRevocations.name, () => {
  let clock = START_MS;
  const now = () => clock;
  const started: SessionRevocations[] = [];

  async function instance(bus: MessageBus, maxEntries = 100): Promise<SessionRevocations> {
    const sut = new SessionRevocations(bus, { absoluteTimeoutSeconds: LIFETIME }, { maxEntries, now });
    await sut.onModuleInit();
    started.push(sut);
    return sut;
  }

  afterEach(async () => {
    clock = START_MS;
    for (const s of started.splice(0)) await s.onModuleDestroy();
  });

  it('revokes a session on every instance that follows the topic, and publishes the contract', async () => {
    const bus = new InProcessMessageBus(new InProcessBroker());
    const seen: SessionRevoked[] = [];
    await bus.follow(TOPICS.sessionRevoked, (e) => {
      seen.push(e);
    });
    const a = await instance(bus);
    const b = await instance(bus);
    expect(await a.revoke(session('s-1'), 'logout')).toBe(true);
    expect(a.isRevoked('s-1')).toBe(true);
    expect(b.isRevoked('s-1')).toBe(true);
    expect(b.isRevoked('s-2')).toBe(false);
    expect(seen).toEqual([
      {
        sessionId: 's-1',
        subject: 'alice',
        revokedAt: new Date(START_MS).toISOString(),
        expiresAt: new Date(START_MS + LIFETIME * 1000).toISOString(),
        reason: 'logout',
      },
    ]);
  });

  it("drops an entry once the session's absolute lifetime is over, counted from its creation", async () => {
    const sut = await instance(new InProcessMessageBus(new InProcessBroker()));
    // Elevated 10 minutes after sign-in: the old id expires when the sign-in would have.
    clock = START_MS + 600_000;
    await sut.revoke(session('old'), 'elevated');
    clock = START_MS + LIFETIME * 1000 - 1;
    expect(sut.isRevoked('old')).toBe(true);
    clock = START_MS + LIFETIME * 1000 + 1;
    expect(sut.isRevoked('old')).toBe(false);
    expect(sut.size).toBe(0);
  });

  it('skips a replayed revocation whose session has already expired', async () => {
    const bus = new InProcessMessageBus(new InProcessBroker());
    const sut = await instance(bus);
    await bus.publish(TOPICS.sessionRevoked, {
      sessionId: 'long-gone',
      subject: 'alice',
      revokedAt: new Date(START_MS - 7200_000).toISOString(),
      expiresAt: new Date(START_MS - 1).toISOString(),
      reason: 'logout',
    });
    expect(sut.isRevoked('long-gone')).toBe(false);
    expect(sut.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the least recently used', async () => {
    const sut = await instance(new InProcessMessageBus(new InProcessBroker()), 3);
    for (const sid of ['a', 'b', 'c']) await sut.revoke(session(sid), 'logout');
    expect(sut.isRevoked('a')).toBe(true); // used: 'b' is now the least recently used
    await sut.revoke(session('d'), 'logout');
    expect(sut.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].filter((sid) => sut.isRevoked(sid))).toEqual(['a', 'c', 'd']);
  });

  it('still revokes locally when the broker refuses the event, and says so', async () => {
    const failing = new InProcessMessageBus(new InProcessBroker());
    failing.publish = () => Promise.reject(new Error('broker down'));
    const sut = await instance(failing);
    expect(await sut.revoke(session('s-1'), 'logout')).toBe(false);
    expect(sut.isRevoked('s-1')).toBe(true);
  });

  it('stops following on destroy', async () => {
    const bus = new InProcessMessageBus(new InProcessBroker());
    const a = await instance(bus);
    const b = await instance(bus);
    await b.onModuleDestroy();
    await a.revoke(session('s-1'), 'logout');
    expect(b.isRevoked('s-1')).toBe(false);
  });

  it('refuses sessions older than the instance until it has read the revocations, then only revoked ones', async () => {
    const bus = new InProcessMessageBus(new InProcessBroker());
    // A follower that has not caught up: the broker is away (onCaughtUp is not called).
    let caughtUp: (() => void) | undefined;
    bus.follow = async (_topic, _handler, options) => {
      caughtUp = options?.onCaughtUp;
      return async () => {};
    };
    const sut = await instance(bus);
    const older = session('old', START_MS / 1000 - 600);
    const newer = session('new', START_MS / 1000 + 60);
    expect(sut.refuses(older)).toBe(true);
    expect(sut.refuses(newer)).toBe(false);
    expect(sut.readinessWarnings()).toEqual([
      expect.stringContaining('older than this instance are refused'),
    ]);
    // Revoked here meanwhile: refused whatever its age.
    await sut.revoke(newer, 'logout');
    expect(sut.refuses(newer)).toBe(true);

    caughtUp!();
    expect(sut.refuses(older)).toBe(false);
    expect(sut.refuses(newer)).toBe(true);
    expect(sut.readinessWarnings()).toEqual([]);
  });

  it('has caught up at once on the in-process bus (nothing was published before it)', async () => {
    const sut = await instance(new InProcessMessageBus(new InProcessBroker()));
    await new Promise((r) => setImmediate(r));
    expect(sut.refuses(session('old', START_MS / 1000 - 600))).toBe(false);
  });
});
