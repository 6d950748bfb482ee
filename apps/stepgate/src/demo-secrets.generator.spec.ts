import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { readRuntimeEnv } from '@stepgate/config';
import { describe, expect, it } from 'vitest';
import { loadChallengeConfig } from '../../challenge/src/config';
import { loadGatewayKeys } from '../../gateway/src/keys/gateway-keys';
import { ensureDemoSecrets, runDemoSecretsCli } from './demo-secrets.generator';

const FILES = ['factor-key', 'gateway-signing-key.jwk', 'session-key', 'token-signing-key.jwk'];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'demo-secrets-'));
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

async function cli(argv: string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDemoSecretsCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe(ensureDemoSecrets.name, () => {
  it('generates every demo secret, 0600 in a 0700 directory it creates, in the forms the services read', async () => {
    const dir = join(tempDir(), 'demo-secrets');
    const outcomes = await ensureDemoSecrets(dir, {});
    expect(outcomes.map((o) => o.outcome)).toEqual(['generated', 'generated', 'generated', 'generated']);
    expect(readdirSync(dir).sort()).toEqual(FILES);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of FILES) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    for (const f of ['factor-key', 'session-key'])
      expect(Buffer.from(readFileSync(join(dir, f), 'utf8').trim(), 'base64')).toHaveLength(32);
    const jwk = JSON.parse(readFileSync(join(dir, 'gateway-signing-key.jwk'), 'utf8')) as Record<
      string,
      string
    >;
    expect(Object.keys(jwk).sort()).toEqual(['crv', 'd', 'kid', 'kty', 'x', 'y']);
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    // Two keys, not one written twice.
    expect(readFileSync(join(dir, 'token-signing-key.jwk'), 'utf8')).not.toBe(
      readFileSync(join(dir, 'gateway-signing-key.jwk'), 'utf8'),
    );
  });

  it('changes nothing on a second run', async () => {
    const dir = tempDir();
    await ensureDemoSecrets(dir, {});
    const before = snapshot(dir);
    const outcomes = await ensureDemoSecrets(dir, {});
    expect(outcomes.map((o) => o.outcome)).toEqual(['kept', 'kept', 'kept', 'kept']);
    expect(snapshot(dir)).toEqual(before);
  });

  it('writes only what is missing, and never what the operator supplies as NAME or NAME_FILE', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'session-key'), 'kept as it is\n', { mode: 0o600 });
    const outcomes = await ensureDemoSecrets(dir, {
      STEPGATE_FACTOR_KEY: 'set',
      STEPGATE_GATEWAY_SIGNING_KEY: '',
      STEPGATE_TOKEN_SIGNING_KEY_FILE: '/run/secrets/token-signing-key',
    });
    expect(outcomes).toEqual([
      {
        name: 'STEPGATE_FACTOR_KEY',
        path: join(dir, 'factor-key'),
        outcome: 'supplied',
        by: 'STEPGATE_FACTOR_KEY',
      },
      { name: 'STEPGATE_SESSION_KEY', path: join(dir, 'session-key'), outcome: 'kept' },
      {
        name: 'STEPGATE_GATEWAY_SIGNING_KEY',
        path: join(dir, 'gateway-signing-key.jwk'),
        outcome: 'generated',
      },
      {
        name: 'STEPGATE_TOKEN_SIGNING_KEY',
        path: join(dir, 'token-signing-key.jwk'),
        outcome: 'supplied',
        by: 'STEPGATE_TOKEN_SIGNING_KEY_FILE',
      },
    ]);
    expect(readdirSync(dir).sort()).toEqual(['gateway-signing-key.jwk', 'session-key']);
    expect(readFileSync(join(dir, 'session-key'), 'utf8')).toBe('kept as it is\n');
  });

  it("writes what the gateway and the challenge service accept in production, and each warns it is a demo's", async () => {
    const dir = tempDir();
    await ensureDemoSecrets(dir, {});
    const runtime = readRuntimeEnv({ NODE_ENV: 'production', STEPGATE_DEMO_SECRETS_DIR: dir });
    const warnings: string[] = [];
    const logger: LoggerService = {
      log: () => undefined,
      error: () => undefined,
      warn: (m: string) => warnings.push(m),
    };
    const keys = await loadGatewayKeys(runtime.env, tempDir(), logger);
    expect(keys.sessionKey).toHaveLength(32);
    const config = loadChallengeConfig(runtime, (m) => warnings.push(m));
    const tokenJwk = JSON.parse(readFileSync(join(dir, 'token-signing-key.jwk'), 'utf8')) as { kid: string };
    expect(config.secrets.signingJwk?.kid).toBe(tokenJwk.kid);
    expect(config.secrets.factorKeys?.current.key).toHaveLength(32);
    expect(warnings.map((w) => /^DEMO SECRET IN USE: (\w+)/.exec(w)?.[1])).toEqual([
      'STEPGATE_SESSION_KEY',
      'STEPGATE_GATEWAY_SIGNING_KEY',
      'STEPGATE_FACTOR_KEY',
      'STEPGATE_TOKEN_SIGNING_KEY',
    ]);
  });
});

describe(runDemoSecretsCli.name, () => {
  it('generates into $STEPGATE_DEMO_SECRETS_DIR, one line per secret, never a value', async () => {
    const dir = tempDir();
    const run = await cli([], {
      STEPGATE_DEMO_SECRETS_DIR: dir,
      STEPGATE_SESSION_KEY_FILE: '/run/secrets/s',
    });
    expect(run.code).toBe(0);
    expect(run.err).toEqual([]);
    expect(run.out).toEqual([
      `STEPGATE_FACTOR_KEY: generated ${join(dir, 'factor-key')} (a DEMO secret, not for production: docs/OPERATIONS.md#secrets)`,
      'STEPGATE_SESSION_KEY: supplied by the operator (STEPGATE_SESSION_KEY_FILE); nothing written',
      expect.stringMatching(/^STEPGATE_GATEWAY_SIGNING_KEY: generated /),
      expect.stringMatching(/^STEPGATE_TOKEN_SIGNING_KEY: generated /),
    ]);
    const output = run.out.join('\n');
    for (const content of Object.values(snapshot(dir))) expect(output).not.toContain(content.trim());
    expect((await cli([], { STEPGATE_DEMO_SECRETS_DIR: dir })).out).toEqual([
      `STEPGATE_FACTOR_KEY: kept ${join(dir, 'factor-key')}`,
      expect.stringMatching(/^STEPGATE_SESSION_KEY: generated /),
      `STEPGATE_GATEWAY_SIGNING_KEY: kept ${join(dir, 'gateway-signing-key.jwk')}`,
      `STEPGATE_TOKEN_SIGNING_KEY: kept ${join(dir, 'token-signing-key.jwk')}`,
    ]);
  });

  it('takes the directory from its argument before the environment', async () => {
    const dir = tempDir();
    const other = tempDir();
    expect((await cli([dir], { STEPGATE_DEMO_SECRETS_DIR: other })).code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(FILES);
    expect(readdirSync(other)).toEqual([]);
  });

  it('writes nothing and exits 0 when demo secrets are off', async () => {
    for (const env of [{}, { STEPGATE_DEMO_SECRETS_DIR: '' }]) {
      const run = await cli([], env);
      expect(run).toEqual({
        code: 0,
        out: [expect.stringMatching(/^demo secrets are disabled .*nothing written$/)],
        err: [],
      });
    }
  });

  it('exits 1 naming the directory it cannot write to, 2 on bad usage', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const run = await cli([join(file, 'below')], {});
    expect(run.code).toBe(1);
    expect(run.err).toEqual([expect.stringContaining(`cannot write to ${join(file, 'below')}`)]);
    expect(existsSync(join(file, 'below'))).toBe(false);
    expect((await cli(['a', 'b'], {})).code).toBe(2);
    expect((await cli(['--force'], {})).code).toBe(2);
  });
});
