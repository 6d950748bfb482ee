import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LOGIN_COOKIE, SESSION_COOKIE, SessionCodec } from './session';

const now = 1_800_000_000;
const fields = {
  sub: 'alice',
  accessToken: 'at',
  stepUpToken: null,
  acr: 'urn:stepgate:acr:basic',
  authTime: now - 5,
};

describe(SessionCodec.name, () => {
  const key = randomBytes(32);
  const sut = new SessionCodec(key, { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 });
  const cookieHeader = (value: string) => `other=1; ${SESSION_COOKIE}=${value}; x=y`;

  it('round-trips a session through an encrypted cookie', async () => {
    const s = sut.newSession(fields, now);
    const sealed = await sut.seal(s);
    expect(sealed).not.toContain('alice');
    expect(await sut.open(cookieHeader(sealed), now + 10)).toEqual(s);
    expect(sut.cookie(sealed)).toBe(`${SESSION_COOKIE}=${sealed}; Path=/; Secure; HttpOnly; SameSite=Lax`);
  });

  it('refuses a cookie sealed with another key or tampered with', async () => {
    const other = new SessionCodec(randomBytes(32), {
      idleTimeoutSeconds: 600,
      absoluteTimeoutSeconds: 3600,
    });
    const sealed = await other.seal(other.newSession(fields, now));
    expect(await sut.open(cookieHeader(sealed), now)).toBeNull();
    const mine = await sut.seal(sut.newSession(fields, now));
    const flipped = mine.slice(0, -3) + (mine.endsWith('AAA') ? 'BBB' : 'AAA');
    expect(await sut.open(cookieHeader(flipped), now)).toBeNull();
  });

  it('ends a session idle too long, and any session past its absolute lifetime', async () => {
    const s = sut.newSession(fields, now);
    const sealed = await sut.seal(s);
    expect(await sut.open(cookieHeader(sealed), now + 599)).not.toBeNull();
    expect(await sut.open(cookieHeader(sealed), now + 600)).toBeNull();
    // Kept active, it still ends at the absolute timeout.
    const active = await sut.seal({ ...s, seenAt: now + 3590 });
    expect(await sut.open(cookieHeader(active), now + 3595)).not.toBeNull();
    expect(await sut.open(cookieHeader(active), now + 3600)).toBeNull();
  });

  it('gives every new session a new id', () => {
    expect(sut.newSession(fields, now).sid).not.toBe(sut.newSession(fields, now).sid);
  });

  it('keeps login state apart from sessions', async () => {
    const cookie = await sut.sealLogin({ state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/x' }, now);
    const value = cookie.split(';')[0]!.split('=').slice(1).join('=');
    expect(await sut.openLogin(`${LOGIN_COOKIE}=${value}`, now + 10)).toEqual({
      state: 's',
      nonce: 'n',
      codeVerifier: 'v',
      returnTo: '/x',
    });
    expect(await sut.openLogin(`${LOGIN_COOKIE}=${value}`, now + 601)).toBeNull();
    // A login cookie is not a session.
    expect(await sut.open(cookieHeader(value), now)).toBeNull();
  });

  it("binds a form token to the session id and the form, under a key of the session key's own", async () => {
    const s = sut.newSession(fields, now);
    const token = sut.formToken(s, 'logout');
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(sut.verifyFormToken({ ...s, seenAt: now + 100 }, 'logout', token)).toBe(true);
    expect(sut.verifyFormToken(sut.newSession(fields, now), 'logout', token)).toBe(false);
    expect(sut.verifyFormToken(s, 'other', token)).toBe(false);
    const other = new SessionCodec(randomBytes(32), {
      idleTimeoutSeconds: 600,
      absoluteTimeoutSeconds: 3600,
    });
    expect(sut.verifyFormToken(s, 'logout', other.formToken(s, 'logout'))).toBe(false);
    for (const bad of [undefined, '', 'x', `${token}=`, 42])
      expect(sut.verifyFormToken(s, 'logout', bad)).toBe(false);
  });
});
