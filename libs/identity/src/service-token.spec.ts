import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SERVICE_TOKEN_TYPE,
  ServiceKeysUnavailable,
  ServiceTokenError,
  ServiceTokenSigner,
  ServiceTokenVerifier,
} from './service-token';

const ISSUER = 'urn:stepgate:gateway';
const AUDIENCE = 'urn:stepgate:risk';

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}

class Clock {
  t = Date.parse('2030-01-01T00:00:00Z');
  now = (): number => this.t;
}

describe(ServiceTokenSigner.name, () => {
  let key: Key;
  beforeAll(async () => {
    key = await newKey('k1');
  });

  it('reuses its token until a third of its life is left, then mints one, once for concurrent callers', async () => {
    const clock = new Clock();
    const sut = new ServiceTokenSigner(
      { issuer: ISSUER, audience: AUDIENCE, subject: 'gw', ttlSeconds: 300 },
      key,
      clock.now,
    );
    const first = await sut.token();
    clock.t += 199_000;
    expect(await sut.token()).toBe(first);
    clock.t += 2_000;
    const renewed = await Promise.all([sut.token(), sut.token(), sut.token()]);
    expect(new Set(renewed).size).toBe(1);
    expect(renewed[0]).not.toBe(first);
  });

  it('refuses lifetimes a verifier would not accept', () => {
    const settings = { issuer: ISSUER, audience: AUDIENCE, subject: 'gw' };
    expect(() => new ServiceTokenSigner({ ...settings, ttlSeconds: 3600 }, key)).toThrow();
    expect(() => new ServiceTokenSigner({ ...settings, ttlSeconds: 5 }, key)).toThrow();
  });
});

describe(ServiceTokenVerifier.name, () => {
  let key: Key;
  let other: Key;
  let jwks: JWTVerifyGetKey;

  beforeAll(async () => {
    key = await newKey('k1');
    other = await newKey('k1');
    jwks = createLocalJWKSet({ keys: [key.publicJwk] });
  });

  const verifier = (clock = new Clock()) =>
    new ServiceTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks }, clock.now);
  const sign = (
    over: { typ?: string; aud?: string; iss?: string; ttl?: number; iat?: number; key?: Key } = {},
    clock = new Clock(),
  ) => {
    const iat = over.iat ?? Math.floor(clock.t / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: over.typ ?? SERVICE_TOKEN_TYPE })
      .setIssuer(over.iss ?? ISSUER)
      .setAudience(over.aud ?? AUDIENCE)
      .setSubject('gw')
      .setIssuedAt(iat)
      .setExpirationTime(iat + (over.ttl ?? 300))
      .sign((over.key ?? key).privateKey);
  };

  it("accepts the signer's tokens", async () => {
    const clock = new Clock();
    const signer = new ServiceTokenSigner(
      { issuer: ISSUER, audience: AUDIENCE, subject: 'gateway/a', ttlSeconds: 300 },
      key,
      clock.now,
    );
    const sut = verifier(clock);
    const header = `Bearer ${await signer.token()}`;
    expect(await sut.verify(header)).toEqual({ subject: 'gateway/a' });
    // Verified once, then remembered, but never past its expiry (and the clock tolerance).
    clock.t += 300_000;
    expect(await sut.verify(header)).toEqual({ subject: 'gateway/a' });
    clock.t += 6_000;
    await expect(sut.verify(header)).rejects.toThrow(ServiceTokenError);
  });

  it.each([
    ['no header', async () => undefined],
    ['another scheme', async () => `Basic ${await sign()}`],
    ['not a JWT', async () => 'Bearer nope'],
    ['another key with the same kid', async () => `Bearer ${await sign({ key: other })}`],
    [
      'an identity assertion (another typ)',
      async () => `Bearer ${await sign({ typ: 'stepgate-assertion+jwt' })}`,
    ],
    ['no typ at all', async () => `Bearer ${await sign({ typ: 'JWT' })}`],
    ['another audience', async () => `Bearer ${await sign({ aud: 'stepgate-admin' })}`],
    ['another issuer', async () => `Bearer ${await sign({ iss: 'urn:someone' })}`],
    ['an expired token', async () => `Bearer ${await sign({ iat: Math.floor(new Clock().t / 1000) - 400 })}`],
    ['a token for days', async () => `Bearer ${await sign({ ttl: 86_400 })}`],
  ])('refuses %s', async (_what, header) => {
    await expect(verifier().verify(await header())).rejects.toThrow(ServiceTokenError);
  });

  it('tells keys it cannot read from tokens it does not accept', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const sut = new ServiceTokenVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: `http://127.0.0.1:${port}/jwks.json`,
      });
      await expect(
        sut.verify(`Bearer ${await sign({ iat: Math.floor(Date.now() / 1000) })}`),
      ).rejects.toThrow(ServiceKeysUnavailable);
    } finally {
      server.close();
    }
  });
});
