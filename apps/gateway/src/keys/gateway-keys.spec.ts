import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadGatewayKeys, SESSION_KEY_FILE, SIGNING_KEY_FILE } from './gateway-keys';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gateway-keys-'));
}

function recorder(): LoggerService & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, log: () => undefined, error: () => undefined, warn: (m: string) => warnings.push(m) };
}

async function privateJwk(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return JSON.stringify(await exportJWK(privateKey));
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe(loadGatewayKeys.name, () => {
  it('takes both keys from files named by *_FILE, as compose and Kubernetes secrets give them', async () => {
    const dir = tempDir();
    const session = randomBytes(32);
    writeFileSync(join(dir, 'session'), `${session.toString('base64')}\n`);
    writeFileSync(join(dir, 'signing'), `${await privateJwk()}\n`);
    const runtime = readRuntimeEnv({
      NODE_ENV: 'production',
      STEPGATE_SESSION_KEY_FILE: join(dir, 'session'),
      STEPGATE_GATEWAY_SIGNING_KEY_FILE: join(dir, 'signing'),
    });
    const logger = recorder();
    const keys = await loadGatewayKeys(runtime.env, runtime.dataDir, logger);
    expect(Buffer.from(keys.sessionKey)).toEqual(session);
    expect(keys.signing.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: keys.signing.kid });
    expect(logger.warnings).toEqual([]);
  });

  it('refuses to start in production without either key, naming both', async () => {
    expect(await problemsOf(loadGatewayKeys({ NODE_ENV: 'production' }, tempDir(), recorder()))).toEqual([
      'STEPGATE_SESSION_KEY: required when NODE_ENV=production',
      'STEPGATE_GATEWAY_SIGNING_KEY: required when NODE_ENV=production',
    ]);
  });

  it('uses the demo secrets directory for what is not supplied, warning once per demo secret', async () => {
    const demo = tempDir();
    const session = randomBytes(32);
    writeFileSync(join(demo, 'session-key'), `${session.toString('base64')}\n`, { mode: 0o600 });
    writeFileSync(join(demo, 'gateway-signing-key.jwk'), `${await privateJwk()}\n`, { mode: 0o600 });
    const data = tempDir();
    const env = { NODE_ENV: 'production', STEPGATE_DEMO_SECRETS_DIR: demo };
    const logger = recorder();
    const keys = await loadGatewayKeys(env, data, logger);
    expect(Buffer.from(keys.sessionKey)).toEqual(session);
    // A second gateway instance on the same directory signs with the same key.
    const again = await loadGatewayKeys(env, data, logger);
    expect(again.signing.kid).toBe(keys.signing.kid);
    expect(logger.warnings).toHaveLength(2);
    expect(logger.warnings[0]).toMatch(/^DEMO SECRET IN USE: STEPGATE_SESSION_KEY /);
    expect(logger.warnings[1]).toMatch(/^DEMO SECRET IN USE: STEPGATE_GATEWAY_SIGNING_KEY /);
    // Nothing was generated under the data directory.
    expect(existsSync(join(data, SESSION_KEY_FILE)) || existsSync(join(data, SIGNING_KEY_FILE))).toBe(false);
  });

  it("prefers the operator's key to the demo one", async () => {
    const demo = tempDir();
    writeFileSync(join(demo, 'session-key'), `${randomBytes(32).toString('base64')}\n`);
    writeFileSync(join(demo, 'gateway-signing-key.jwk'), `${await privateJwk()}\n`);
    const own = randomBytes(32);
    const logger = recorder();
    const keys = await loadGatewayKeys(
      { STEPGATE_SESSION_KEY: own.toString('base64'), STEPGATE_DEMO_SECRETS_DIR: demo },
      tempDir(),
      logger,
    );
    expect(Buffer.from(keys.sessionKey)).toEqual(own);
    expect(logger.warnings.map((w) => w.split(' is ')[0])).toEqual([
      'DEMO SECRET IN USE: STEPGATE_GATEWAY_SIGNING_KEY',
    ]);
  });

  it('refuses, in any mode, when the demo directory is set but the init step did not fill it', async () => {
    const demo = tempDir();
    for (const NODE_ENV of ['production', 'development']) {
      const problems = await problemsOf(
        loadGatewayKeys({ NODE_ENV, STEPGATE_DEMO_SECRETS_DIR: demo }, tempDir(), recorder()),
      );
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^STEPGATE_SESSION_KEY: not set, .*the demo-secrets init step did not run/);
      expect(problems[1]).toMatch(
        /^STEPGATE_GATEWAY_SIGNING_KEY: not set, .*gateway-signing-key\.jwk: the demo-secrets init step/,
      );
    }
  });

  it('names the demo file a bad key came from', async () => {
    const demo = tempDir();
    writeFileSync(join(demo, 'session-key'), 'c2hvcnQ=\n');
    writeFileSync(join(demo, 'gateway-signing-key.jwk'), '{"kty":"RSA"}\n');
    expect(
      await problemsOf(loadGatewayKeys({ STEPGATE_DEMO_SECRETS_DIR: demo }, tempDir(), recorder())),
    ).toEqual([
      `STEPGATE_SESSION_KEY (from ${join(demo, 'session-key')}): must be base64 of exactly 32 bytes`,
      `STEPGATE_GATEWAY_SIGNING_KEY (from ${join(demo, 'gateway-signing-key.jwk')}): must be a private EC P-256 JWK (JSON)`,
    ]);
  });

  it('keeps development keys under the data directory when nothing is set, as before', async () => {
    const data = tempDir();
    const logger = recorder();
    const first = await loadGatewayKeys({}, data, logger);
    const second = await loadGatewayKeys({}, data, logger);
    expect(Buffer.from(second.sessionKey)).toEqual(Buffer.from(first.sessionKey));
    expect(second.signing.kid).toBe(first.signing.kid);
    expect(existsSync(join(data, SESSION_KEY_FILE))).toBe(true);
    expect(logger.warnings.every((w) => w.includes('development key'))).toBe(true);
  });
});
