import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import type { DevIssuerConfig } from './config';
import { signDevToken } from './dev-token';

const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

describe(signDevToken.name, () => {
  const config = {
    issuer: 'http://127.0.0.1:9000',
    audience: 'stepgate',
    tokenTtlSeconds: 600,
    groups: { alice: ['staff'] },
  } as unknown as DevIssuerConfig;

  async function key() {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    return { kid: 'k1', privateKey, publicJwk: await exportJWK(publicKey) };
  }

  it('binds the token to a DPoP key (cnf.jkt) when asked, and to nothing otherwise', async () => {
    const k = await key();
    const bound = decodeJwt(await signDevToken(config, k, { sub: 'alice', jkt: JKT }));
    expect(bound).toMatchObject({
      sub: 'alice',
      cnf: { jkt: JKT },
      groups: ['staff'],
      acr: 'urn:stepgate:acr:basic',
    });
    expect(decodeJwt(await signDevToken(config, k, { sub: 'alice' }))).not.toHaveProperty('cnf');
    // Extra claims cannot replace the binding.
    const claimed = decodeJwt(
      await signDevToken(config, k, { sub: 'alice', jkt: JKT, claims: { cnf: { jkt: 'other' } } }),
    );
    expect(claimed.cnf).toEqual({ jkt: JKT });
  });
});
