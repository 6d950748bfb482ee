import { randomBytes } from 'node:crypto';
import type { TokenVerifier } from '@stepgate/identity';
import { InProcessBroker, InProcessMessageBus } from '@stepgate/kafka';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../config';
import { SESSION_COOKIE, SessionCodec, type Session } from './session';
import { SessionRevocations } from './session-revocations';
import { LOGOUT_PATH, LogoutRefused, SignInService } from './sign-in.service';

const timeouts = { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 3600 };
const HOST = 'gw.example:8443';

describe(`${SignInService.name} logout`, () => {
  const codec = new SessionCodec(randomBytes(32), timeouts);
  let revocations: SessionRevocations;
  let sut: SignInService;
  let session: Session;
  let cookie: string;

  const config = (publicUrl?: string) => ({ gateway: { signIn: { publicUrl } } }) as unknown as GatewayConfig;

  beforeEach(async () => {
    revocations = new SessionRevocations(new InProcessMessageBus(new InProcessBroker()), timeouts);
    sut = new SignInService(config(), codec, {} as TokenVerifier, revocations);
    const now = Math.floor(Date.now() / 1000);
    session = codec.newSession(
      { sub: 'alice', accessToken: 'at', stepUpToken: null, acr: null, authTime: null },
      now,
    );
    cookie = `${SESSION_COOKIE}=${await codec.seal(session)}`;
  });

  it('GET shows the confirmation with a token bound to the session, and ends nothing', async () => {
    const page = await sut.logoutPage(cookie, '/api/x?y=1');
    expect(page).toEqual({
      kind: 'confirm',
      csrfToken: codec.formToken(session, 'logout'),
      returnTo: '/api/x?y=1',
    });
    expect(revocations.isRevoked(session.sid)).toBe(false);
    expect(await sut.logoutPage(undefined, '//evil.com')).toMatchObject({
      kind: 'signed_out',
      returnTo: '/',
    });
  });

  it('POST signs out with the token from this origin, revoking the session id', async () => {
    const token = codec.formToken(session, 'logout');
    const out = await sut.logout({ host: HOST, origin: `https://${HOST}`, cookie }, '/api/x', token);
    expect(out.location).toBe(`${LOGOUT_PATH}?return_to=%2Fapi%2Fx`);
    expect(out.cookies).toEqual([codec.clearCookie()]);
    expect(revocations.isRevoked(session.sid)).toBe(true);
    // Once revoked, the GET says signed out.
    expect(await sut.logoutPage(cookie, '/')).toMatchObject({ kind: 'signed_out' });
  });

  it.each([
    ['another origin', { origin: 'https://evil.example' }, true],
    ['a cross-site request without Origin', { 'sec-fetch-site': 'cross-site' }, true],
    ['no Origin and no Fetch Metadata', {}, true],
    ['no token', { origin: `http://${HOST}` }, false],
  ])('POST refuses %s', async (_name, headers, withToken) => {
    const token = withToken ? codec.formToken(session, 'logout') : undefined;
    await expect(sut.logout({ host: HOST, cookie, ...headers }, '/', token)).rejects.toBeInstanceOf(
      LogoutRefused,
    );
    expect(revocations.isRevoked(session.sid)).toBe(false);
  });

  it("POST refuses another session's token, or one for another form", async () => {
    const other = codec.newSession({ ...session }, session.createdAt);
    const headers = { host: HOST, origin: `http://${HOST}`, cookie };
    await expect(sut.logout(headers, '/', codec.formToken(other, 'logout'))).rejects.toThrow(LogoutRefused);
    await expect(sut.logout(headers, '/', codec.formToken(session, 'other'))).rejects.toThrow(LogoutRefused);
    await expect(sut.logout(headers, '/', 'A'.repeat(43))).rejects.toThrow(LogoutRefused);
  });

  it('with a public URL, only its origin counts as this site', async () => {
    sut = new SignInService(config('https://login.example'), codec, {} as TokenVerifier, revocations);
    const token = codec.formToken(session, 'logout');
    await expect(sut.logout({ host: HOST, origin: `https://${HOST}`, cookie }, '/', token)).rejects.toThrow(
      LogoutRefused,
    );
    await sut.logout({ host: HOST, origin: 'https://login.example', cookie }, '/', token);
    expect(revocations.isRevoked(session.sid)).toBe(true);
  });

  it('POST without a live session only clears the cookie (same origin still required)', async () => {
    const out = await sut.logout({ host: HOST, origin: `http://${HOST}` }, '/', undefined);
    expect(out.cookies).toEqual([codec.clearCookie()]);
    await expect(sut.logout({ host: HOST, origin: 'https://evil.example' }, '/', undefined)).rejects.toThrow(
      LogoutRefused,
    );
  });
});
