// The dev issuer's signing key, kept under the data directory so the token CLI and the running issuer agree.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

export interface DevIssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function loadOrCreateDevIssuerKey(dataDir: string): Promise<DevIssuerKey> {
  const dir = join(dataDir, 'dev-issuer');
  const file = join(dir, 'signing-key.json');
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const fresh = {
      ...(await exportJWK(privateKey)),
      kid: `dev-${Date.now().toString(36)}`,
      alg: 'ES256',
      use: 'sig',
    };
    try {
      writeFileSync(file, JSON.stringify(fresh), { mode: 0o600, flag: 'wx' });
      jwk = fresh;
    } catch {
      // Another process created it first: use theirs.
      jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    }
  }
  const { d: _d, ...publicJwk } = jwk;
  return { kid: jwk.kid!, privateKey: (await importJWK(jwk, 'ES256')) as CryptoKey, publicJwk };
}
