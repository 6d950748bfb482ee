import type { VerifiedToken } from '@stepgate/identity';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { IdentityAssertionSigner } from './identity-assertion';

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
