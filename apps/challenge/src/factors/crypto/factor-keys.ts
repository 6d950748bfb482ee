// Where the key that seals factor secrets comes from: the environment in production; in development and the
// embedded mode a generated key kept beside the data, so secrets survive restarts without any setup.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { z } from 'zod';
import { derivedKeyId, type ChallengeSecrets, type FactorKey } from '../../config';
import { SecretBox } from './secret-box';

export const DEV_KEY_FILE = 'factor-key.json';

const devKeyFile = z.strictObject({ keyId: z.string().min(1).max(64), key: z.base64() });

export function createSecretBox(
  secrets: ChallengeSecrets,
  dataDir: string,
  logger: LoggerService,
): SecretBox {
  if (secrets.factorKeys) return new SecretBox(secrets.factorKeys.current, secrets.factorKeys.previous);
  const { key, path } = developmentKey(dataDir);
  logger.warn(
    `STEPGATE_FACTOR_KEY is not set: factor secrets are sealed with a development key stored in ${path}. ` +
      'Set STEPGATE_FACTOR_KEY (base64 of 32 random bytes) outside development.',
  );
  return new SecretBox(key);
}

/** Reads the development key, creating it first if needed. */
export function developmentKey(dataDir: string): { key: FactorKey; path: string } {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, DEV_KEY_FILE);
  // Written aside, then linked into place: link fails if the file exists, so two instances starting
  // together agree on one key, and neither ever reads a half-written file.
  const fresh = randomBytes(32);
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, JSON.stringify({ keyId: derivedKeyId(fresh), key: fresh.toString('base64') }), {
    mode: 0o600,
  });
  try {
    linkSync(draft, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(draft);
  }
  if ((statSync(path).mode & 0o077) !== 0)
    throw new Error(`${path} is readable by other users; chmod 600 it`);
  let parsed: z.infer<typeof devKeyFile> | undefined;
  try {
    parsed = devKeyFile.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    parsed = undefined;
  }
  const key = parsed ? Buffer.from(parsed.key, 'base64') : undefined;
  if (!parsed || key?.length !== 32) throw new Error(`${path} does not hold a valid factor key`);
  return { key: { id: parsed.keyId, key }, path };
}
