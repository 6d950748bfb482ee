import { calculateThumbprint, generateKeyPair as dpopKeyPair, generateProof, type KeyPair } from 'dpop';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { DpopError, ReplayStoreUnavailableError } from './dpop.errors';
import { DpopNonces } from './dpop.nonce';
import { accessTokenHash, assertBoundTo, verifyDpopProof, type DpopProofOptions } from './dpop.proof';
import { MemoryReplayStore, replayKeyOf } from './replay.store';

const URL_ = 'https://gw.example.com/api/orders';
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe(verifyDpopProof.name, () => {
  let es256: KeyPair;
  let publicJwk: JWK;

  beforeAll(async () => {
    es256 = await dpopKeyPair('ES256');
    publicJwk = await exportJWK(es256.publicKey);
  });

  const now = () => Math.floor(Date.now() / 1000);
  const options = (extra: Partial<DpopProofOptions> = {}): DpopProofOptions => ({
    method: 'GET',
    url: URL_,
    ...extra,
  });

  /** A proof signed by hand, for the cases the dpop library will not produce. */
  const handMade = (
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
    key: CryptoKey | Uint8Array = es256.privateKey,
  ): Promise<string> =>
    new SignJWT({ jti: 'jti-1', htm: 'GET', htu: URL_, iat: now(), ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk, ...header })
      .sign(key);

  const refusal = async (
    proof: string | readonly string[] | undefined,
    opts: DpopProofOptions = options(),
  ): Promise<DpopError> => {
    const err = await verifyDpopProof(proof, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DpopError);
    return err as DpopError;
  };

  describe('accepts', () => {
    it.each(['ES256', 'Ed25519', 'PS256', 'RS256'] as const)(
      'a proof from the dpop library signed with %s, and gives its RFC 7638 thumbprint',
      async (alg) => {
        const keys = await dpopKeyPair(alg);
        const proof = await generateProof(keys, URL_, 'GET');
        const sut = await verifyDpopProof(proof, options());
        expect(sut).toMatchObject({ jkt: await calculateThumbprint(keys.publicKey), alg });
        expect(sut.jti).toMatch(/.+/);
        expect(Math.abs(sut.iat - now())).toBeLessThanOrEqual(2);
        expect(Object.keys(sut.jwk).sort()).not.toContain('d');
      },
    );

    it('EdDSA as the alg name of an Ed25519 key', async () => {
      const { privateKey, publicKey } = await generateKeyPair('Ed25519');
      const proof = await handMade({}, { alg: 'EdDSA', jwk: await exportJWK(publicKey) }, privateKey);
      await expect(verifyDpopProof(proof, options())).resolves.toMatchObject({ alg: 'EdDSA' });
    });

    it('the htu in another spelling of the same URI (RFC 3986 normalisation)', async () => {
      const target = 'https://gw.example.com/~user/a%2Fb';
      for (const htu of [
        'HTTPS://GW.Example.COM:443/~user/a%2fb',
        'https://gw.example.com/%7Euser/a%2Fb',
        'https://gw.example.com/x/../~user/./a%2Fb',
      ]) {
        const proof = await generateProof(es256, htu, 'GET');
        await expect(verifyDpopProof(proof, options({ url: target }))).resolves.toBeTruthy();
      }
      const root = await generateProof(es256, 'https://gw.example.com', 'GET');
      await expect(verifyDpopProof(root, options({ url: 'https://gw.example.com/' }))).resolves.toBeTruthy();
    });

    it('an htu with query and fragment, which are ignored on both sides (RFC 9449 section 4.3 item 9)', async () => {
      const proof = await generateProof(es256, `${URL_}?page=2#top`, 'GET');
      await expect(verifyDpopProof(proof, options({ url: `${URL_}?other=1` }))).resolves.toBeTruthy();
    });

    it('a proof with the ath of the access token it comes with', async () => {
      const proof = await generateProof(es256, URL_, 'POST', undefined, 'the.access.token');
      await expect(
        verifyDpopProof(proof, options({ method: 'POST', accessToken: 'the.access.token' })),
      ).resolves.toBeTruthy();
      expect(accessTokenHash('the.access.token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('a header given as a one-element array', async () => {
      await expect(
        verifyDpopProof([await generateProof(es256, URL_, 'GET')], options()),
      ).resolves.toBeTruthy();
    });

    it('iat at the edges of the window', async () => {
      const t = now();
      for (const iat of [t - 60, t + 5]) {
        await expect(verifyDpopProof(await handMade({ iat }), options({ now: t }))).resolves.toBeTruthy();
      }
    });
  });

  describe('refuses with invalid_dpop_proof', () => {
    it.each([
      ['no header', undefined],
      ['an empty header', ''],
      ['two headers', ['a.b.c', 'a.b.c']],
      ['two headers joined by Node', 'a.b.c, a.b.c'],
      ['not a JWT', 'not-a-jwt'],
      ['a JWE-shaped value', 'a.b.c.d.e'],
      ['a header that is not JSON', `${Buffer.from('{oops').toString('base64url')}.e30.AAAA`],
      ['a header that is an array', `${b64([1])}.e30.AAAA`],
    ])('%s', async (_name, proof) => {
      expect((await refusal(proof)).code).toBe('invalid_dpop_proof');
    });

    it('an oversized proof, before parsing it', async () => {
      const padded = await handMade({ pad: 'x'.repeat(5000) });
      expect((await refusal(padded)).message).toMatch(/too large/);
      // Garbage of the same size gives the same answer: the length is checked before anything else.
      expect((await refusal('!'.repeat(10_000))).message).toMatch(/too large/);
    });

    it.each([
      ['no typ', { typ: undefined }],
      ['typ JWT', { typ: 'JWT' }],
      ['typ at+jwt', { typ: 'at+jwt' }],
    ])('a wrong typ: %s', async (_name, header) => {
      expect((await refusal(await handMade({}, header))).message).toMatch(/typ/);
    });

    it('alg none', async () => {
      const unsigned = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: publicJwk })}.${b64({
        jti: 'j',
        htm: 'GET',
        htu: URL_,
        iat: now(),
      })}.`;
      expect((await refusal(unsigned)).code).toBe('invalid_dpop_proof');
      const withSignature = `${unsigned}AAAA`;
      expect((await refusal(withSignature)).message).toMatch(/alg is not allowed/);
    });

    it('HS256 with a symmetric jwk, even when the allowlist names it by mistake', async () => {
      const secret = new Uint8Array(32).fill(7);
      const proof = await handMade(
        {},
        { alg: 'HS256', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } },
        secret,
      );
      expect((await refusal(proof)).message).toMatch(/alg is not allowed/);
      const misconfigured = options({ algorithms: ['HS256', 'none', 'ES256'] });
      expect((await refusal(proof, misconfigured)).message).toMatch(/alg is not allowed/);
    });

    it('an alg outside the configured allowlist', async () => {
      const proof = await generateProof(es256, URL_, 'GET');
      expect((await refusal(proof, options({ algorithms: ['EdDSA'] }))).message).toMatch(
        /alg is not allowed/,
      );
    });

    it('a jwk with private members', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      expect(privateJwk.d).toBeDefined();
      expect((await refusal(await handMade({}, { jwk: privateJwk }, privateKey))).message).toMatch(
        /must be a public key/,
      );
    });

    it.each([
      ['no jwk', { jwk: undefined }],
      ['a jwk that is a string', { jwk: 'key' }],
      ['a jwk without its coordinates', { jwk: { kty: 'EC', crv: 'P-256' } }],
      ['an unknown kty', { jwk: { kty: 'XYZ', x: 'a' } }],
    ])('%s', async (_name, header) => {
      expect((await refusal(await handMade({}, header))).message).toMatch(/jwk/);
    });

    it('a signature by another key than the jwk', async () => {
      const other = await dpopKeyPair('ES256');
      expect((await refusal(await handMade({}, {}, other.privateKey))).message).toMatch(/signature/);
    });

    it('a jwk that does not suit the alg', async () => {
      const rsa = await dpopKeyPair('RS256');
      const proof = await handMade({}, { alg: 'RS256' }, rsa.privateKey);
      expect((await refusal(proof)).message).toMatch(/signature/);
    });

    it('an RSA key under 2048 bits', async () => {
      const { privateKey, publicKey } = await crypto.subtle.generateKey(
        {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 1024,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        true,
        ['sign', 'verify'],
      );
      const jwk = await exportJWK(publicKey);
      const input = `${b64({ alg: 'RS256', typ: 'dpop+jwt', jwk })}.${b64({ jti: 'j', htm: 'GET', htu: URL_, iat: now() })}`;
      const sig = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, Buffer.from(input));
      expect((await refusal(`${input}.${Buffer.from(sig).toString('base64url')}`)).message).toMatch(
        /signature/,
      );
    });

    it('an unknown critical header', async () => {
      const proof = await new SignJWT({ jti: 'j', htm: 'GET', htu: URL_, iat: now() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk, crit: ['x-ext'], 'x-ext': 1 })
        .sign(es256.privateKey)
        .catch(() => null);
      // jose may refuse to sign it; then build it by hand with a signature it would have checked.
      const sample =
        proof ?? `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk, crit: ['x-ext'] })}.e30.AAAA`;
      expect((await refusal(sample)).code).toBe('invalid_dpop_proof');
    });

    it.each([
      ['a missing jti', { jti: undefined }],
      ['an empty jti', { jti: '' }],
      ['a jti that is a number', { jti: 42 }],
      ['a jti of 257 characters', { jti: 'j'.repeat(257) }],
    ])('%s', async (_name, claims) => {
      expect((await refusal(await handMade(claims))).message).toMatch(/jti/);
    });

    it.each([
      ['another method', { htm: 'POST' }],
      ['a lower-case method', { htm: 'get' }],
      ['no htm', { htm: undefined }],
    ])('htm: %s', async (_name, claims) => {
      expect((await refusal(await handMade(claims))).message).toMatch(/htm/);
    });

    it.each([
      ['another host', 'https://evil.example.com/api/orders'],
      ['another path', 'https://gw.example.com/api/orders/1'],
      ['a trailing slash', 'https://gw.example.com/api/orders/'],
      ['another scheme', 'http://gw.example.com/api/orders'],
      ['another port', 'https://gw.example.com:8443/api/orders'],
      ['userinfo', 'https://alice@gw.example.com/api/orders'],
      ['a relative URI', '/api/orders'],
      ['a non-http scheme', 'ftp://gw.example.com/api/orders'],
      ['an encoded slash for a slash', 'https://gw.example.com/api%2Forders'],
    ])('htu with %s', async (_name, htu) => {
      expect((await refusal(await handMade({ htu }))).message).toMatch(/htu/);
    });

    it('iat too old, too far ahead, or missing', async () => {
      const t = now();
      for (const iat of [t - 61, t + 6, undefined, '1700000000']) {
        expect((await refusal(await handMade({ iat }), options({ now: t }))).message).toMatch(/iat/);
      }
      const longer = options({ now: t, maxAgeSeconds: 120, clockSkewSeconds: 30 });
      await expect(verifyDpopProof(await handMade({ iat: t - 100 }), longer)).resolves.toBeTruthy();
      await expect(verifyDpopProof(await handMade({ iat: t + 20 }), longer)).resolves.toBeTruthy();
    });

    it('a wrong ath, or none when an access token is presented', async () => {
      const withToken = options({ accessToken: 'the.access.token' });
      const wrong = await generateProof(es256, URL_, 'GET', undefined, 'another.token');
      expect((await refusal(wrong, withToken)).message).toMatch(/ath does not match/);
      const none = await generateProof(es256, URL_, 'GET');
      expect((await refusal(none, withToken)).message).toMatch(/no ath/);
      // Without a token, an ath is not looked at.
      await expect(verifyDpopProof(wrong, options())).resolves.toBeTruthy();
    });

    it('never echoes what the proof says', async () => {
      const hostile = 'https://x.example/"\r\nSet-Cookie: a=b';
      const messages = [
        (await refusal(await handMade({ htu: hostile }))).message,
        (await refusal(await handMade({ htm: hostile }))).message,
        (await refusal(await handMade({}, { typ: hostile }))).message,
        (await refusal(`${b64({ alg: hostile, typ: 'dpop+jwt', jwk: publicJwk })}.e30.AAAA`)).message,
      ];
      for (const message of messages) expect(message).not.toMatch(/x\.example|Set-Cookie|["\r\n]/);
    });
  });

  describe('with server nonces', () => {
    const nonces = new DpopNonces({ secret: 'a-test-secret-of-at-least-32-bytes!!' });

    it('asks for a nonce when the proof has none or a bad one (use_dpop_nonce)', async () => {
      const opts = options({ nonce: nonces });
      expect((await refusal(await generateProof(es256, URL_, 'GET'), opts)).code).toBe('use_dpop_nonce');
      const bad = await generateProof(es256, URL_, 'GET', 'A'.repeat(43));
      expect((await refusal(bad, opts)).code).toBe('use_dpop_nonce');
      const good = await generateProof(es256, URL_, 'GET', nonces.issue());
      await expect(verifyDpopProof(good, opts)).resolves.toBeTruthy();
    });

    it('answers a proof that is bad in another way with invalid_dpop_proof, not a nonce', async () => {
      const other = await dpopKeyPair('ES256');
      const forged = await handMade({ nonce: 'bad' }, {}, other.privateKey);
      expect((await refusal(forged, options({ nonce: nonces }))).code).toBe('invalid_dpop_proof');
    });
  });

  describe('with a replay store', () => {
    it('admits a proof once, keyed by jkt and jti, until iat + maxAge + skew', async () => {
      const claims: [string, number][] = [];
      const store = new MemoryReplayStore();
      const spy = { claim: (key: string, exp: number) => (claims.push([key, exp]), store.claim(key, exp)) };
      const t = now();
      const proof = await handMade({ iat: t });
      const first = await verifyDpopProof(proof, options({ replay: spy, now: t }));
      expect(claims).toEqual([[replayKeyOf(first.jkt, 'jti-1'), t + 65]]);
      const again = await refusal(proof, options({ replay: spy, now: t + 1 }));
      expect(again.message).toMatch(/already been used/);
      // The same jti under another key is another proof.
      const other = await dpopKeyPair('ES256');
      const otherProof = await handMade(
        { iat: t },
        { jwk: await exportJWK(other.publicKey) },
        other.privateKey,
      );
      await expect(verifyDpopProof(otherProof, options({ replay: spy, now: t }))).resolves.toBeTruthy();
    });

    it('claims nothing for a proof that fails another check', async () => {
      let calls = 0;
      const store = { claim: async () => (calls++, true) };
      await refusal(await handMade({ htm: 'POST' }), options({ replay: store }));
      await refusal(
        await generateProof(es256, URL_, 'GET'),
        options({ replay: store, nonce: new DpopNonces({ secret: 'x'.repeat(32) }) }),
      );
      expect(calls).toBe(0);
    });

    it('surfaces a failing store as ReplayStoreUnavailableError, never as an admitted proof', async () => {
      const failing = { claim: () => Promise.reject(new Error('connection refused')) };
      const err = await verifyDpopProof(await handMade(), options({ replay: failing })).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ReplayStoreUnavailableError);
      expect((err as Error).message).not.toMatch(/refused/);
    });
  });
});

describe(assertBoundTo.name, () => {
  const jkt = 'A'.repeat(43);

  it('passes when the token is bound to the proof key', () => {
    expect(() => assertBoundTo(jkt, jkt)).not.toThrow();
  });

  it('refuses another key, or a token bound to none, with invalid_token', () => {
    expect(() => assertBoundTo('B'.repeat(43), jkt)).toThrow(
      expect.objectContaining({ code: 'invalid_token' }),
    );
    expect(() => assertBoundTo(null, jkt)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
  });
});
