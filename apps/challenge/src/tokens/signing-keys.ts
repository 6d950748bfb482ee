// The key stepped-up tokens are signed with. From STEPGATE_TOKEN_SIGNING_KEY when set; otherwise generated once
// and kept in the database, sealed, so every instance of the service signs with the same key.
import type { LoggerService } from '@nestjs/common';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWK_EC_Private,
} from 'jose';
import type { Repository } from 'typeorm';
import type { SigningJwk } from '../config';
import type { SecretBox } from '../factors/crypto/secret-box';
import type { SigningKeyEntity } from './signing-key.entity';

export const SIGNING_ALGORITHM = 'ES256';
const CURRENT = 'current';

export class SigningKeys {
  constructor(
    readonly kid: string,
    readonly privateKey: CryptoKey,
    private readonly publicJwk: JWK,
  ) {}

  /** What the gateway fetches: public halves only. */
  jwks(): JSONWebKeySet {
    return { keys: [{ ...this.publicJwk, kid: this.kid, alg: SIGNING_ALGORITHM, use: 'sig' }] };
  }
}

export async function loadSigningKeys(
  configured: SigningJwk | null,
  rows: Repository<SigningKeyEntity>,
  box: SecretBox,
  logger: Pick<LoggerService, 'log'>,
): Promise<SigningKeys> {
  if (configured) {
    const { d: _private, kid, ...publicJwk } = configured;
    const privateKey = await importPrivate(configured);
    return new SigningKeys(kid ?? (await calculateJwkThumbprint(publicJwk)), privateKey, publicJwk);
  }
  const stored = (await rows.findOneBy({ slot: CURRENT })) ?? (await createShared(rows, box, logger));
  const privateJwk = JSON.parse(
    box.open(sealedOf(stored), contextOf(stored.kid)).toString('utf8'),
  ) as JWK_EC_Private;
  return new SigningKeys(stored.kid, await importPrivate(privateJwk), JSON.parse(stored.publicJwk) as JWK);
}

async function createShared(
  rows: Repository<SigningKeyEntity>,
  box: SecretBox,
  logger: Pick<LoggerService, 'log'>,
): Promise<SigningKeyEntity> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const sealed = box.seal(Buffer.from(JSON.stringify(await exportJWK(privateKey))), contextOf(kid));
  const row = rows.create({
    kid,
    slot: CURRENT,
    publicJwk: JSON.stringify(publicJwk),
    privateJwkCiphertext: sealed.ciphertext,
    privateKeyId: sealed.keyId,
    createdAt: Date.now(),
  });
  try {
    await rows.insert(row);
    logger.log(`generated the stepped-up token signing key ${kid} and stored it sealed in the database`);
    return row;
  } catch (err) {
    // Another instance created one first: the unique slot refused ours, so use theirs.
    const winner = await rows.findOneBy({ slot: CURRENT });
    if (!winner) throw err;
    return winner;
  }
}

function importPrivate(jwk: JWK_EC_Private): Promise<CryptoKey> {
  return importJWK({ ...jwk, kty: 'EC', alg: SIGNING_ALGORITHM }, SIGNING_ALGORITHM);
}

const contextOf = (kid: string): string => `signing-key:${kid}`;
const sealedOf = (row: SigningKeyEntity) => ({
  keyId: row.privateKeyId,
  ciphertext: row.privateJwkCiphertext,
});
