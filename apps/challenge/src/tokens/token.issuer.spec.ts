import { randomBytes } from 'node:crypto';
import { readRuntimeEnv } from '@stepgate/config';
import { STEP_UP_TOKEN_TYPE, TokenVerifier } from '@stepgate/identity';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { challengeConfigSchema, loadChallengeConfig, type ChallengeConfig } from '../config';
import { CHALLENGE_ENTITIES, CHALLENGE_MIGRATIONS } from '../database/challenge-database';
import { SecretBox } from '../factors/crypto/secret-box';
import { SigningKeyEntity } from './signing-key.entity';
import { loadSigningKeys, type SigningKeys } from './signing-keys';
import { carriedClaims } from '../challenges/challenges.service';
import { TokenIssuer, type StepUpGrant } from './token.issuer';

const MFA = 'urn:stepgate:acr:mfa';
const quiet = { log: () => undefined };
const grant: StepUpGrant = {
  subject: 'alice',
  acr: MFA,
  amr: ['otp'],
  deviceId: 'laptop',
  sessionId: 's-1',
  maxAgeSeconds: 300,
  riskLevel: 'medium',
  jkt: null,
  carried: { groups: ['stepgate-admins'] },
};
const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

describe(TokenIssuer.name, () => {
  let db: DataSource;
  let config: ChallengeConfig;
  let keys: SigningKeys;
  let sut: TokenIssuer;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    config = loadChallengeConfig(readRuntimeEnv({}));
    db = await memoryDatabase();
    keys = await loadSigningKeys(null, db.getRepository(SigningKeyEntity), box, quiet);
    sut = new TokenIssuer(keys, config);
    const { issuer, audience } = config.challenge.tokens;
    verifier = new TokenVerifier([], { issuer, audience, jwks: () => keys.jwks() }, 30);
  });

  afterAll(() => db.destroy());

  it('issues a token the identity verifier accepts as stepped-up, bound to the device', async () => {
    const nowMs = Date.now();
    const { token, expiresIn } = await sut.issue(grant, nowMs);
    const verified = await verifier.verify(token);
    expect(verified).toMatchObject({
      kind: 'stepup',
      subject: 'alice',
      acr: MFA,
      amr: ['otp'],
      deviceId: 'laptop',
      sessionId: 's-1',
      authTime: Math.floor(nowMs / 1000),
    });
    expect(verified.expiresAt - verified.authTime!).toBe(expiresIn);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: STEP_UP_TOKEN_TYPE, kid: keys.kid });
    const claims = decodeJwt(token);
    // Carried over, so route requirements (here a group) still hold for the stepped-up token.
    expect(claims).toMatchObject({
      iss: 'urn:stepgate:challenge',
      aud: 'stepgate',
      sub: 'alice',
      groups: ['stepgate-admins'],
    });
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  });

  it('never outlives the route freshness requirement or the configured lifetime', async () => {
    expect((await sut.issue({ ...grant, maxAgeSeconds: 60 }, Date.now())).expiresIn).toBe(60);
    expect((await sut.issue({ ...grant, maxAgeSeconds: 86_400 }, Date.now())).expiresIn).toBe(
      config.challenge.tokens.ttlSeconds,
    );
  });

  it('leaves sid out when there is no session', async () => {
    const { token } = await sut.issue({ ...grant, sessionId: null }, Date.now());
    expect(decodeJwt(token)).not.toHaveProperty('sid');
    expect((await verifier.verify(token)).sessionId).toBeNull();
  });

  it('says the risk level it was minted for, and is bound to nothing but the device by default', async () => {
    const { token } = await sut.issue(grant, Date.now());
    expect(await verifier.verify(token)).toMatchObject({ riskLevel: 'medium', jkt: null });
    expect(decodeJwt(token)).toMatchObject({ risk_level: 'medium' });
    expect(decodeJwt(token)).not.toHaveProperty('cnf');
  });

  it('binds the token to a DPoP key (cnf.jkt) when the grant names one, whatever the access token carried', async () => {
    const { token } = await sut.issue(
      { ...grant, jkt: JKT, deviceId: `dpop:${JKT}`, carried: { cnf: { jkt: 'other' }, risk_level: 'low' } },
      Date.now(),
    );
    expect(await verifier.verify(token)).toMatchObject({
      jkt: JKT,
      deviceId: `dpop:${JKT}`,
      riskLevel: 'medium',
    });
    expect(decodeJwt(token).cnf).toEqual({ jkt: JKT });
  });

  it('gives unique token ids', async () => {
    const a = decodeJwt((await sut.issue(grant, Date.now())).token).jti;
    const b = decodeJwt((await sut.issue(grant, Date.now())).token).jti;
    expect(a).not.toBe(b);
  });
});

const box = new SecretBox({ id: 'k1', key: randomBytes(32) });

async function memoryDatabase(): Promise<DataSource> {
  const db = new DataSource({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: CHALLENGE_ENTITIES,
    migrations: CHALLENGE_MIGRATIONS,
    migrationsRun: true,
  });
  return db.initialize();
}

describe('carried claims', () => {
  it('copies what the config names from the access token, never the protocol claims', async () => {
    const config = loadChallengeConfig(readRuntimeEnv({}));
    expect(config.challenge.tokens.carryClaims).toEqual(['groups']);
    expect(
      carriedClaims({ groups: ['stepgate-admins'], tenant: 'acme', acr: 'x' }, ['groups', 'missing']),
    ).toEqual({
      groups: ['stepgate-admins'],
    });
  });

  it('refuses to carry the claims the stepped-up token sets itself (risk_level, cnf)', () => {
    for (const claim of ['risk_level', 'cnf', 'acr']) {
      expect(() =>
        challengeConfigSchema.shape.challenge.shape.tokens.shape.carryClaims.parse([claim]),
      ).toThrow(/sets itself/);
    }
  });
});
