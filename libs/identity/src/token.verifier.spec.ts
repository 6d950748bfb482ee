import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenError, TokenVerifier } from './token.verifier';

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** A JWKS endpoint that counts its fetches, and a second server that must never be asked anything. */
function jwksServer(keys: () => JWK[]): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: keys() }));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        hits: () => hits,
      }),
    ),
  );
}

describe(TokenVerifier.name, () => {
  const issuer = 'https://issuer.test';
  let published: Key[];
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  let trap: Awaited<ReturnType<typeof jwksServer>>;

  beforeAll(async () => {
    published = [await newKey('k1')];
    jwks = await jwksServer(() => published.map((k) => k.publicJwk));
    trap = await jwksServer(() => []);
  });

  afterAll(() => {
    jwks.server.close();
    trap.server.close();
  });

  const verifier = (opts: { cooldown?: number; typ?: string; cache?: number } = {}) =>
    new TokenVerifier(
      [
        {
          issuer,
          jwksUri: `${jwks.url}/jwks.json`,
          audience: 'stepgate',
          algorithms: ['ES256'],
          typ: opts.typ,
          jwksCooldownSeconds: opts.cooldown ?? 30,
        },
      ],
      undefined,
      5,
      { cacheMaxEntries: opts.cache ?? 100 },
    );

  const sign = (
    key: Key,
    header: Record<string, unknown> = {},
    claims: Record<string, unknown> = {},
  ): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: issuer, aud: 'stepgate', sub: 'alice', iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', ...header })
      .sign(key.privateKey);
  };

  it('refetches the key set for an unknown kid at most once per cooldown, and fails closed', async () => {
    const sut = verifier({ cooldown: 30 });
    const before = jwks.hits();
    await expect(sut.verify(await sign(published[0]!))).resolves.toMatchObject({ subject: 'alice' });
    expect(jwks.hits()).toBe(before + 1);
    const stranger = await newKey('unknown');
    for (let i = 0; i < 5; i++) {
      await expect(sut.verify(await sign(stranger))).rejects.toThrow(TokenError);
    }
    // Just fetched, so cooling down: five unknown kids caused no fetch at all.
    expect(jwks.hits()).toBe(before + 1);
  });

  it('picks up a rotated key once the cooldown has passed, with one fetch', async () => {
    const sut = verifier({ cooldown: 0.2 });
    const before = jwks.hits();
    await sut.verify(await sign(published[0]!));
    const rotated = await newKey('k2');
    published.push(rotated);
    await sleep(300);
    await expect(sut.verify(await sign(rotated))).resolves.toMatchObject({ subject: 'alice' });
    expect(jwks.hits()).toBe(before + 2);
    // Unknown again right after: cooling down, no fetch, refused.
    await expect(sut.verify(await sign(await newKey('k3')))).rejects.toThrow(TokenError);
    expect(jwks.hits()).toBe(before + 2);
  });

  it.each([
    ['jku', (url: string) => ({ jku: `${url}/keys` })],
    ['x5u', (url: string) => ({ x5u: `${url}/cert` })],
  ])('never follows a %s header', async (_name, header) => {
    const attacker = await newKey('k1');
    const before = trap.hits();
    await expect(verifier().verify(await sign(attacker, header(trap.url)))).rejects.toThrow(TokenError);
    expect(trap.hits()).toBe(before);
  });

  it('never trusts a key embedded in the token (jwk header)', async () => {
    const attacker = await newKey('k1');
    const token = await sign(attacker, { jwk: attacker.publicJwk });
    await expect(verifier().verify(token)).rejects.toThrow(TokenError);
  });

  it('enforces typ where the issuer says so', async () => {
    const sut = verifier({ typ: 'at+jwt' });
    await expect(sut.verify(await sign(published[0]!, { typ: 'application/at+jwt' }))).resolves.toBeTruthy();
    await expect(sut.verify(await sign(published[0]!, { typ: 'JWT' }))).rejects.toThrow(/token type/);
    await expect(sut.verify(await sign(published[0]!, { typ: undefined }))).rejects.toThrow(/token type/);
    // Without the setting, a plain JWT access token is accepted.
    await expect(verifier().verify(await sign(published[0]!, { typ: 'JWT' }))).resolves.toBeTruthy();
  });

  it('applies the clock skew to nbf, iat and auth_time ahead, and none to exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    const sut = verifier();
    // Past its exp a token is expired, skew or not: nothing minted from it may start expired.
    await expect(sut.verify(await sign(published[0]!, {}, { exp: now - 3 }))).rejects.toThrow(/expired/);
    await expect(sut.verify(await sign(published[0]!, {}, { exp: now - 30 }))).rejects.toThrow(/expired/);
    await expect(sut.verify(await sign(published[0]!, {}, { nbf: now + 3 }))).resolves.toBeTruthy();
    await expect(sut.verify(await sign(published[0]!, {}, { nbf: now + 30 }))).rejects.toThrow(TokenError);
    for (const claim of ['iat', 'auth_time']) {
      await expect(sut.verify(await sign(published[0]!, {}, { [claim]: now + 3 }))).resolves.toBeTruthy();
      // An auth_time in the future would be fresh forever.
      await expect(sut.verify(await sign(published[0]!, {}, { [claim]: now + 30 }))).rejects.toThrow(
        `${claim} is in the future`,
      );
      await expect(sut.verify(await sign(published[0]!, {}, { [claim]: 'soon' }))).rejects.toThrow(
        TokenError,
      );
    }
  });

  it('refuses an empty sub, and a sid or acr that is empty, not a string or too long', async () => {
    const sut = verifier();
    await expect(sut.verify(await sign(published[0]!, {}, { sub: '' }))).rejects.toThrow(/sub/);
    await expect(sut.verify(await sign(published[0]!, {}, { sub: 'x'.repeat(257) }))).rejects.toThrow(/sub/);
    for (const bad of ['', 'x'.repeat(129), 42]) {
      await expect(sut.verify(await sign(published[0]!, {}, { sid: bad }))).rejects.toThrow(/sid/);
      await expect(sut.verify(await sign(published[0]!, {}, { acr: bad }))).rejects.toThrow(/acr/);
    }
    await expect(
      sut.verify(await sign(published[0]!, {}, { sub: 's'.repeat(256), sid: 'i'.repeat(128) })),
    ).resolves.toMatchObject({ sessionId: 'i'.repeat(128) });
  });

  it('refuses algorithms outside the allowlist', async () => {
    const { privateKey } = await generateKeyPair('ES384');
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: issuer, aud: 'stepgate', sub: 'alice', exp: now + 60 })
      .setProtectedHeader({ alg: 'ES384', kid: 'k1', typ: 'at+jwt' })
      .sign(privateKey);
    await expect(verifier().verify(token)).rejects.toThrow(TokenError);
  });

  it('gives the cnf.jkt of a DPoP-bound token, and null for an unbound one', async () => {
    const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
    await expect(verifier().verify(await sign(published[0]!, {}, { cnf: { jkt } }))).resolves.toMatchObject({
      jkt,
    });
    await expect(verifier().verify(await sign(published[0]!))).resolves.toMatchObject({ jkt: null });
  });

  it.each([
    ['a jkt of the wrong length', { jkt: 'abc' }],
    ['a jkt with characters outside base64url', { jkt: `${'A'.repeat(42)}=` }],
    ['a jkt that is not a string', { jkt: 42 }],
    ['an empty cnf', {}],
    ['another confirmation method only', { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }],
    [
      'another confirmation method beside jkt',
      {
        jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
        'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2',
      },
    ],
    ['a cnf that is a string', 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'],
    ['a cnf that is null', null],
    ['a cnf that is an array', ['NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs']],
  ])('refuses a token whose binding it cannot verify: %s', async (_name, cnf) => {
    await expect(verifier().verify(await sign(published[0]!, {}, { cnf }))).rejects.toThrow(TokenError);
  });

  it('answers a repeated token from its cache until the token expires', async () => {
    const sut = verifier();
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(published[0]!, {}, { exp: now + 60 });
    const first = await sut.verify(token, now);
    expect(await sut.verify(token, now + 1)).toBe(first);
    // Past exp the cache does not answer: the token is checked in full again (a new result).
    const later = await sut.verify(token, now + 61).catch((e: unknown) => e);
    expect(later).not.toBe(first);
  });
});
