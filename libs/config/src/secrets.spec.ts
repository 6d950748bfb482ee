import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config.loader';
import { readRuntimeEnv } from './runtime.env';
import {
  announceDemoSecrets,
  DEMO_SECRET_FILES,
  lookupSecret,
  resolveSecretFiles,
  secretLabel,
  type SecretLookup,
} from './secrets';

const SECRET = 'c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1uZXZlci1sZWFr';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'stepgate-secrets-'));
}

function fileWith(content: string): string {
  const path = join(tempDir(), 'secret');
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe(resolveSecretFiles.name, () => {
  it('takes NAME as it is, and NAME_FILE from its file with one trailing line break dropped', () => {
    const env = resolveSecretFiles({
      STEPGATE_SESSION_KEY: SECRET,
      STEPGATE_FACTOR_KEY_FILE: fileWith(`${SECRET}\n`),
      STEPGATE_GATEWAY_SIGNING_KEY_FILE: fileWith('{"kty":"EC"}\r\n'),
      DATABASE_URL_FILE: fileWith('postgres://u:p@db/x\n\n'),
      STEPGATE_TOKEN_SIGNING_KEY_FILE: fileWith('no line break'),
      KAFKA_BROKERS: 'kafka:9092',
    });
    expect(env).toMatchObject({
      STEPGATE_SESSION_KEY: SECRET,
      STEPGATE_FACTOR_KEY: SECRET,
      STEPGATE_GATEWAY_SIGNING_KEY: '{"kty":"EC"}',
      // Only one: a value may end in a line break of its own.
      DATABASE_URL: 'postgres://u:p@db/x\n',
      STEPGATE_TOKEN_SIGNING_KEY: 'no line break',
      KAFKA_BROKERS: 'kafka:9092',
    });
  });

  it('treats an empty NAME or NAME_FILE as unset, and leaves its input alone', () => {
    const input = { STEPGATE_FACTOR_KEY: '', STEPGATE_FACTOR_KEY_FILE: '', STEPGATE_SESSION_KEY_FILE: '' };
    const env = resolveSecretFiles(input);
    expect(env.STEPGATE_FACTOR_KEY).toBeUndefined();
    expect(env.STEPGATE_SESSION_KEY).toBeUndefined();
    expect(input).toEqual({
      STEPGATE_FACTOR_KEY: '',
      STEPGATE_FACTOR_KEY_FILE: '',
      STEPGATE_SESSION_KEY_FILE: '',
    });
  });

  it('refuses NAME and NAME_FILE together, naming both, with every other problem at once', () => {
    const missing = join(tempDir(), 'absent');
    const empty = fileWith('\n');
    const problems = problemsOf(() =>
      resolveSecretFiles({
        STEPGATE_FACTOR_KEY: SECRET,
        STEPGATE_FACTOR_KEY_FILE: fileWith(SECRET),
        STEPGATE_SESSION_KEY_FILE: missing,
        DATABASE_URL_FILE: empty,
        STEPGATE_GATEWAY_SIGNING_KEY_FILE: tempDir(),
      }),
    );
    expect(problems).toEqual([
      'STEPGATE_FACTOR_KEY and STEPGATE_FACTOR_KEY_FILE are both set: set only one of them',
      `STEPGATE_SESSION_KEY_FILE: cannot read ${missing} (no such file)`,
      expect.stringMatching(
        /^STEPGATE_GATEWAY_SIGNING_KEY_FILE: cannot read .* \(a directory, not a file\)$/,
      ),
      `DATABASE_URL_FILE: ${empty} is empty`,
    ]);
  });

  it('never shows what a file holds', () => {
    const file = fileWith(SECRET);
    let message = '';
    try {
      resolveSecretFiles({ STEPGATE_SESSION_KEY: SECRET, STEPGATE_SESSION_KEY_FILE: file });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('STEPGATE_SESSION_KEY_FILE');
    expect(message).not.toContain(SECRET);
  });

  it.skipIf(process.getuid?.() === 0)('names the variable and path of a file it may not read', () => {
    const file = fileWith(SECRET);
    chmodSync(file, 0o000);
    expect(problemsOf(() => resolveSecretFiles({ STEPGATE_FACTOR_PREVIOUS_KEYS_FILE: file }))).toEqual([
      `STEPGATE_FACTOR_PREVIOUS_KEYS_FILE: cannot read ${file} (permission denied)`,
    ]);
  });

  it('is applied by readRuntimeEnv, so every service and the embedded mode see the file secrets', () => {
    const runtime = readRuntimeEnv({ DATABASE_URL_FILE: fileWith('postgres://stepgate@db/test\n') });
    expect(runtime.databaseUrl).toBe('postgres://stepgate@db/test');
    expect(runtime.env.DATABASE_URL).toBe('postgres://stepgate@db/test');
    expect(() => readRuntimeEnv({ DATABASE_URL: 'x', DATABASE_URL_FILE: 'y' })).toThrow(ConfigError);
  });
});

describe(lookupSecret.name, () => {
  function demoDir(files: Partial<Record<keyof typeof DEMO_SECRET_FILES, string>> = {}): string {
    const dir = tempDir();
    for (const [name, content] of Object.entries(files))
      writeFileSync(join(dir, DEMO_SECRET_FILES[name as keyof typeof DEMO_SECRET_FILES]), content, {
        mode: 0o600,
      });
    return dir;
  }

  it('prefers the environment over the demo directory', () => {
    const dir = demoDir({ STEPGATE_SESSION_KEY: 'demo\n' });
    expect(
      lookupSecret({ STEPGATE_SESSION_KEY: SECRET, STEPGATE_DEMO_SECRETS_DIR: dir }, 'STEPGATE_SESSION_KEY'),
    ).toEqual({ source: 'environment', name: 'STEPGATE_SESSION_KEY', value: SECRET });
  });

  it('reads what the environment lacks from the demo directory, under its file name', () => {
    const dir = demoDir({
      STEPGATE_SESSION_KEY: `${SECRET}\n`,
      STEPGATE_GATEWAY_SIGNING_KEY: '{"kty":"EC"}\n',
    });
    const env = { STEPGATE_DEMO_SECRETS_DIR: dir };
    const session = lookupSecret(env, 'STEPGATE_SESSION_KEY');
    expect(session).toEqual({
      source: 'demo',
      name: 'STEPGATE_SESSION_KEY',
      value: SECRET,
      path: join(dir, 'session-key'),
    });
    expect(lookupSecret(env, 'STEPGATE_GATEWAY_SIGNING_KEY')).toMatchObject({
      source: 'demo',
      path: join(dir, 'gateway-signing-key.jwk'),
    });
    expect(secretLabel(session)).toBe(`STEPGATE_SESSION_KEY (from ${join(dir, 'session-key')})`);
  });

  it('finds nothing, and no problem, when the demo directory is unset or empty', () => {
    for (const env of [{}, { STEPGATE_DEMO_SECRETS_DIR: '' }]) {
      expect(lookupSecret(env, 'STEPGATE_FACTOR_KEY')).toEqual({
        source: 'none',
        name: 'STEPGATE_FACTOR_KEY',
      });
    }
  });

  it('says the init step did not run when the demo directory lacks a secret, unless it is optional', () => {
    const dir = demoDir();
    const env = { STEPGATE_DEMO_SECRETS_DIR: dir };
    const factor = lookupSecret(env, 'STEPGATE_FACTOR_KEY');
    expect(factor.source).toBe('none');
    expect(factor.source === 'none' && factor.problem).toMatch(
      new RegExp(
        `^STEPGATE_FACTOR_KEY: not set, and STEPGATE_DEMO_SECRETS_DIR has no ${join(dir, 'factor-key')}: ` +
          'the demo-secrets init step did not run',
      ),
    );
    expect(lookupSecret(env, 'STEPGATE_TOKEN_SIGNING_KEY', { optional: true })).toEqual({
      source: 'none',
      name: 'STEPGATE_TOKEN_SIGNING_KEY',
    });
  });

  it('refuses an empty or unreadable demo file, even for an optional secret', () => {
    const dir = demoDir({ STEPGATE_TOKEN_SIGNING_KEY: '' });
    mkdirSync(join(dir, 'session-key'));
    const env = { STEPGATE_DEMO_SECRETS_DIR: dir };
    expect(lookupSecret(env, 'STEPGATE_TOKEN_SIGNING_KEY', { optional: true })).toEqual({
      source: 'none',
      name: 'STEPGATE_TOKEN_SIGNING_KEY',
      problem: `STEPGATE_TOKEN_SIGNING_KEY: ${join(dir, 'token-signing-key.jwk')} is empty (from STEPGATE_DEMO_SECRETS_DIR)`,
    });
    expect(lookupSecret(env, 'STEPGATE_SESSION_KEY')).toMatchObject({
      problem: `STEPGATE_SESSION_KEY: cannot read ${join(dir, 'session-key')} (a directory, not a file) (from STEPGATE_DEMO_SECRETS_DIR)`,
    });
  });
});

describe(announceDemoSecrets.name, () => {
  it('warns once per demo secret in a process, loudly, with how to supply your own, never the value', () => {
    const lookups: SecretLookup[] = [
      { source: 'environment', name: 'STEPGATE_FACTOR_KEY', value: SECRET },
      { source: 'demo', name: 'STEPGATE_SESSION_KEY', value: SECRET, path: '/run/demo-announce/session-key' },
      { source: 'none', name: 'STEPGATE_TOKEN_SIGNING_KEY' },
    ];
    const warnings: string[] = [];
    announceDemoSecrets(lookups, (m) => warnings.push(m));
    announceDemoSecrets(lookups, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^DEMO SECRET IN USE: STEPGATE_SESSION_KEY .* \/run\/demo-announce\/session-key/,
    );
    expect(warnings[0]).toContain('STEPGATE_SESSION_KEY_FILE');
    expect(warnings[0]).toContain('Not for production');
    expect(warnings[0]).not.toContain(SECRET);
  });
});
