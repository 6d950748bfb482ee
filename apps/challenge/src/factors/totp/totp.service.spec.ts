import { randomBytes } from 'node:crypto';
import { readRuntimeEnv } from '@stepgate/config';
import { Secret } from 'otpauth';
import { DataSource, type Repository } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadChallengeConfig } from '../../config';
import { CHALLENGE_ENTITIES, CHALLENGE_MIGRATIONS } from '../../database/challenge-database';
import { SecretBox } from '../crypto/secret-box';
import { InvalidActivationCode } from '../factor.errors';
import { codeAt, type TotpSettings } from './totp';
import { TotpFactorEntity } from './totp-factor.entity';
import { TotpService } from './totp.service';

const config = loadChallengeConfig(readRuntimeEnv({}));
const totp: TotpSettings = config.challenge.totp;
const STEP = totp.periodSeconds * 1000;
const t0 = 1_764_300_015_000;

describe(TotpService.name, () => {
  let db: DataSource;
  let factors: Repository<TotpFactorEntity>;
  let sut: TotpService;

  beforeEach(async () => {
    db = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: CHALLENGE_ENTITIES,
      migrations: CHALLENGE_MIGRATIONS,
      migrationsRun: true,
    }).initialize();
    factors = db.getRepository(TotpFactorEntity);
    sut = new TotpService(factors, new SecretBox({ id: 'k1', key: randomBytes(32) }), config);
  });

  afterEach(() => db.destroy());

  /** An active factor, activated with the code of t0; returns its raw secret. */
  async function activeFactor(subject = 'alice'): Promise<Buffer> {
    const { factor, secret } = await sut.enrol(subject, 'laptop', 'first_factor:any-device', t0);
    const raw = Buffer.from(Secret.fromBase32(secret).bytes);
    await sut.activate(await sut.pendingFactor(subject, factor.id, 'laptop', t0), codeAt(raw, t0, totp), t0);
    return raw;
  }

  it('does not accept the activation code again for a challenge', async () => {
    const secret = await activeFactor();
    expect(await sut.verify('alice', codeAt(secret, t0, totp), t0)).toBe(false);
    expect(await sut.verify('alice', codeAt(secret, t0 + STEP, totp), t0)).toBe(true);
  });

  it('accepts a code once, and no older one after it', async () => {
    const secret = await activeFactor();
    const next = codeAt(secret, t0 + STEP, totp);
    expect(await sut.verify('alice', next, t0 + STEP)).toBe(true);
    expect(await sut.verify('alice', next, t0 + STEP)).toBe(false);
    // The previous step is inside the window, but older than the one just used.
    expect(await sut.verify('alice', codeAt(secret, t0, totp), t0 + STEP)).toBe(false);
  });

  it('lets exactly one of many concurrent verifications of one code succeed', async () => {
    const secret = await activeFactor();
    const code = codeAt(secret, t0 + STEP, totp);
    const results = await Promise.all(Array.from({ length: 8 }, () => sut.verify('alice', code, t0)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("never checks a code against another subject's factor", async () => {
    const secret = await activeFactor('alice');
    expect(await sut.verify('bob', codeAt(secret, t0 + STEP, totp), t0)).toBe(false);
  });

  it('does not let a pending factor pass challenges, nor be activated with a wrong code', async () => {
    const { factor, secret } = await sut.enrol('carol', 'laptop', 'first_factor:any-device', t0);
    const raw = Buffer.from(Secret.fromBase32(secret).bytes);
    expect(await sut.verify('carol', codeAt(raw, t0, totp), t0)).toBe(false);
    const pending = await sut.pendingFactor('carol', factor.id, 'laptop', t0);
    await expect(
      sut.activate(pending, '000000' === codeAt(raw, t0, totp) ? '111111' : '000000', t0),
    ).rejects.toThrow(InvalidActivationCode);
  });

  it('keeps only sealed secrets in the table', async () => {
    const secret = await activeFactor();
    const [row] = await factors.find();
    expect(row!.secretKeyId).toBe('k1');
    expect(Buffer.from(row!.secretCiphertext, 'base64url').includes(secret)).toBe(false);
  });
});
