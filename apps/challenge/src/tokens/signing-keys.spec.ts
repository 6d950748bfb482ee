import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SigningJwk } from '../config';
import { CHALLENGE_ENTITIES, CHALLENGE_MIGRATIONS } from '../database/challenge-database';
import { SecretBox } from '../factors/crypto/secret-box';
import { SigningKeyEntity } from './signing-key.entity';
import { loadSigningKeys } from './signing-keys';

const box = new SecretBox({ id: 'k1', key: randomBytes(32) });
const quiet = { log: () => undefined };

describe(loadSigningKeys.name, () => {
  let db: DataSource;

  beforeEach(async () => {
    db = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: CHALLENGE_ENTITIES,
      migrations: CHALLENGE_MIGRATIONS,
      migrationsRun: true,
    }).initialize();
  });

  afterEach(() => db.destroy());

  it('generates one key for all instances, even when they start together', async () => {
    const rows = db.getRepository(SigningKeyEntity);
    const loaded = await Promise.all([1, 2, 3].map(() => loadSigningKeys(null, rows, box, quiet)));
    expect(new Set(loaded.map((k) => k.kid)).size).toBe(1);
    expect(await rows.count()).toBe(1);
    const stored = await rows.findOneByOrFail({ slot: 'current' });
    expect(stored.privateJwkCiphertext).not.toContain('"d"');
    expect(stored.privateKeyId).toBe('k1');
  });

  it('keeps using the stored key', async () => {
    const rows = db.getRepository(SigningKeyEntity);
    const first = await loadSigningKeys(null, rows, box, quiet);
    expect((await loadSigningKeys(null, rows, box, quiet)).jwks()).toEqual(first.jwks());
  });

  it('uses the configured key when there is one, and publishes only its public half', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = (await exportJWK(privateKey)) as SigningJwk;
    const rows = db.getRepository(SigningKeyEntity);
    const keys = await loadSigningKeys({ ...jwk, kid: 'prod-1' }, rows, box, quiet);
    expect(keys.kid).toBe('prod-1');
    const [published] = keys.jwks().keys;
    expect(published).toMatchObject({
      kid: 'prod-1',
      kty: 'EC',
      crv: 'P-256',
      x: jwk.x,
      y: jwk.y,
      alg: 'ES256',
      use: 'sig',
    });
    expect(published).not.toHaveProperty('d');
    expect(await rows.count()).toBe(0);
  });
});
