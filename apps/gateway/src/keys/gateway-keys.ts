// Where the gateway's two secrets come from: the environment (NAME or NAME_FILE; every instance must share
// them), else the demo secrets directory when STEPGATE_DEMO_SECRETS_DIR is set (docs/adr/0015), else, outside
// production, development keys generated once and kept under the data directory (0600). Both fallbacks warn.
//   STEPGATE_SESSION_KEY          base64 of 32 bytes: encrypts session cookies (dir + A256GCM)
//   STEPGATE_GATEWAY_SIGNING_KEY  a private EC P-256 JWK: signs X-StepGate-Assertion (ES256)
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import {
  announceDemoSecrets,
  ConfigError,
  lookupSecret,
  secretLabel,
  type SecretLookup,
} from '@stepgate/config';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';

export const SESSION_KEY_FILE = 'gateway-session-key.json';
export const SIGNING_KEY_FILE = 'gateway-signing-key.json';

export interface GatewayKeys {
  /** 32 bytes for A256GCM. */
  sessionKey: Uint8Array;
  signing: { kid: string; privateKey: CryptoKey; publicJwk: JWK };
}

export async function loadGatewayKeys(
  env: Record<string, string | undefined>,
  dataDir: string,
  logger: LoggerService,
): Promise<GatewayKeys> {
  const production = env.NODE_ENV === 'production';
  const problems: string[] = [];
  const absent = (lookup: Extract<SecretLookup, { source: 'none' }>): void => {
    if (lookup.problem) problems.push(lookup.problem);
    else if (production) problems.push(`${lookup.name}: required when NODE_ENV=production`);
  };

  const session = lookupSecret(env, 'STEPGATE_SESSION_KEY');
  let sessionKey: Uint8Array | undefined;
  if (session.source === 'none') absent(session);
  else {
    const k = Buffer.from(session.value, 'base64');
    if (k.length !== 32) problems.push(`${secretLabel(session)}: must be base64 of exactly 32 bytes`);
    else sessionKey = k;
  }

  const signing = lookupSecret(env, 'STEPGATE_GATEWAY_SIGNING_KEY');
  let signingJwk: JWK | undefined;
  if (signing.source === 'none') absent(signing);
  else {
    try {
      signingJwk = JSON.parse(signing.value) as JWK;
      if (signingJwk.kty !== 'EC' || signingJwk.crv !== 'P-256' || !signingJwk.d) throw new Error();
    } catch {
      problems.push(`${secretLabel(signing)}: must be a private EC P-256 JWK (JSON)`);
      signingJwk = undefined;
    }
  }
  if (problems.length > 0) throw new ConfigError('environment', problems);
  announceDemoSecrets([session, signing], (message) => {
    logger.warn(message);
  });

  if (!sessionKey) {
    const path = join(dataDir, SESSION_KEY_FILE);
    const stored = developmentSecret(path, () => ({ key: randomBytes(32).toString('base64') })) as {
      key?: unknown;
    };
    const k = typeof stored.key === 'string' ? Buffer.from(stored.key, 'base64') : Buffer.alloc(0);
    if (k.length !== 32) throw new Error(`${path} does not hold a valid session key`);
    sessionKey = k;
    logger.warn(
      `STEPGATE_SESSION_KEY is not set: session cookies are encrypted with a development key stored in ${path}. ` +
        'Set STEPGATE_SESSION_KEY (base64 of 32 random bytes, the same on every gateway instance) outside development.',
    );
  }
  if (!signingJwk) {
    const path = join(dataDir, SIGNING_KEY_FILE);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const fresh = await exportJWK(privateKey);
    signingJwk = developmentSecret(path, () => fresh) as JWK;
    logger.warn(
      `STEPGATE_GATEWAY_SIGNING_KEY is not set: identity assertions are signed with a development key stored in ${path}. ` +
        'Set STEPGATE_GATEWAY_SIGNING_KEY (a private EC P-256 JWK, the same on every gateway instance) outside development.',
    );
  }
  const { d: _d, ...pub } = signingJwk;
  const publicJwk: JWK = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y };
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    sessionKey,
    signing: {
      kid,
      privateKey: (await importJWK({ ...signingJwk, alg: 'ES256' }, 'ES256')) as CryptoKey,
      publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
    },
  };
}

/**
 * Reads a development secret, creating it first if needed. Written aside, then linked into place: link
 * fails if the file exists, so two instances starting together agree, and none reads a half-written file.
 */
function developmentSecret(path: string, make: () => object): unknown {
  mkdirSync(join(path, '..'), { recursive: true });
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, JSON.stringify(make()), { mode: 0o600 });
  try {
    linkSync(draft, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(draft);
  }
  if ((statSync(path).mode & 0o077) !== 0)
    throw new Error(`${path} is readable by other users; chmod 600 it`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    throw new Error(`${path} is not valid JSON`);
  }
}
