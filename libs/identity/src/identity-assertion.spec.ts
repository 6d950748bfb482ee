import { createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  ASSERTION_TYPE,
  IdentityAssertionError,
  IdentityAssertionSigner,
  IdentityAssertionVerifier,
} from './identity-assertion';
import type { VerifiedToken } from './token.verifier';

const token = (expiresAt: number): VerifiedToken => ({
  kind: 'access',
  subject: 'alice',
  issuer: 'i',
  acr: null,
  amr: [],
  authTime: null,
  sessionId: null,
  deviceId: null,
  jkt: null,
  riskLevel: null,
  expiresAt,
  tokenId: null,
  claims: {},
});

describe(IdentityAssertionSigner.name, () => {
  const sut = async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    return new IdentityAssertionSigner(
      { issuer: 'urn:stepgate:gateway', ttlSeconds: 60, reuseSeconds: 0 },
      { kid: 'k', privateKey, publicJwk: await exportJWK(publicKey) },
    );
  };
  const input = (t: VerifiedToken) => ({
    token: t,
    audience: 'demo',
    route: 'r',
    deviceId: null,
    risk: null,
  });

  it('never outlives its token, and never mints one that starts expired', async () => {
    const signer = await sut();
    const nowMs = 1_800_000_000_500;
    const now = Math.floor(nowMs / 1000);
    const claims = decodeJwt(await signer.assertion(input(token(now + 10)), nowMs));
    expect(claims).toMatchObject({ iat: now, exp: now + 10 });
    // A token whose exp is this very second (verified a moment ago, in the previous one): no assertion.
    await expect(signer.assertion(input(token(now)), nowMs)).rejects.toThrow('token expired');
    await expect(signer.assertion(input(token(now - 20)), nowMs)).rejects.toThrow('token expired');
  });
});

describe(IdentityAssertionVerifier.name, () => {
  const issuer = 'urn:stepgate:gateway';
  const keys = async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' };
    return { kid: 'k', privateKey, publicJwk };
  };
  const verifierFor = (key: { publicJwk: JWK }, audience = 'stepgate-admin') =>
    new IdentityAssertionVerifier({ issuer, audience, jwks: createLocalJWKSet({ keys: [key.publicJwk] }) });

  it("verifies what the gateway's signer signs, with every claim by its name", async () => {
    const key = await keys();
    const signer = new IdentityAssertionSigner({ issuer, ttlSeconds: 60, reuseSeconds: 0 }, key);
    const now = Math.floor(Date.now() / 1000);
    const jwt = await signer.assertion({
      token: { ...token(now + 300), acr: 'urn:stepgate:acr:mfa', amr: ['otp'], kind: 'stepup' },
      audience: 'stepgate-admin',
      route: 'stepgate-admin',
      deviceId: 'd1',
      risk: { score: 12, level: 'low' },
    });
    const verified = await verifierFor(key).verify(jwt);
    expect(verified.subject).toBe('alice');
    expect(verified.claims).toMatchObject({
      acr: 'urn:stepgate:acr:mfa',
      amr: ['otp'],
      device_id: 'd1',
      token_kind: 'stepup',
      token_issuer: 'i',
      risk: { score: 12, level: 'low' },
      route: 'stepgate-admin',
    });
  });

  it('refuses another key, issuer, audience, type or an assertion too old, and one naming no subject', async () => {
    const key = await keys();
    const forger = await keys();
    const now = Math.floor(Date.now() / 1000);
    const sign = (
      over: { typ?: string; iss?: string; aud?: string; iat?: number; sub?: string | null } = {},
      signingKey = key,
    ) => {
      const jwt = new SignJWT({ route: 'stepgate-admin' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: over.typ ?? ASSERTION_TYPE })
        .setIssuer(over.iss ?? issuer)
        .setAudience(over.aud ?? 'stepgate-admin')
        .setIssuedAt(over.iat ?? now)
        .setExpirationTime((over.iat ?? now) + 300);
      if (over.sub !== null) jwt.setSubject(over.sub ?? 'alice');
      return jwt.sign(signingKey.privateKey);
    };
    const sut = verifierFor(key);
    await expect(sut.verify(await sign())).resolves.toMatchObject({ subject: 'alice' });
    for (const jwt of [
      await sign({}, forger),
      await sign({ iss: 'urn:someone:else' }),
      await sign({ aud: 'demo' }),
      await sign({ typ: 'at+jwt' }),
      await sign({ iat: now - 600 }),
      await sign({ sub: null }),
      'not a jwt',
    ])
      await expect(sut.verify(jwt)).rejects.toBeInstanceOf(IdentityAssertionError);
  });
});
