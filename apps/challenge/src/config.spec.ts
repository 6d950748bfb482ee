import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { derivedKeyId, loadChallengeConfig } from './config';

const repoConfig = resolve('config/stepgate.yaml');

interface Doc {
  gateway: Record<string, unknown>;
  challenge: Record<string, unknown> & { tokens: Record<string, unknown>; methods: Record<string, unknown> };
}

/** Loads the repository's config file, optionally changed, with the given environment. */
function load(env: Record<string, string> = {}, change?: (doc: Doc) => void) {
  let file = repoConfig;
  if (change) {
    const doc = parse(readFileSync(repoConfig, 'utf8')) as Doc;
    change(doc);
    file = join(mkdtempSync(join(tmpdir(), 'challenge-config-')), 'stepgate.yaml');
    writeFileSync(file, stringify(doc));
  }
  return loadChallengeConfig(readRuntimeEnv({ STEPGATE_CONFIG: file, ...env }));
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

describe(loadChallengeConfig.name, () => {
  it("loads the repository's config, with the issuers from the gateway section", () => {
    const config = load();
    expect(config.challenge.maxAttempts).toBe(5);
    expect(config.challenge.methods.critical).toEqual([]);
    expect(config.issuers[0]).toMatchObject({ audience: 'stepgate', algorithms: ['ES256'] });
    expect(config.acrLevels).toContain(config.challenge.methodAcr.totp);
    expect(config.secrets).toEqual({ factorKeys: null, signingJwk: null });
  });

  it('takes the factor key, its id, and retired keys from the environment', () => {
    const current = randomBytes(32);
    const old = randomBytes(32);
    const config = load({
      STEPGATE_FACTOR_KEY: current.toString('base64'),
      STEPGATE_FACTOR_PREVIOUS_KEYS: `2025-q4:${old.toString('base64')}`,
    });
    expect(config.secrets.factorKeys?.current).toEqual({ id: derivedKeyId(current), key: current });
    expect(config.secrets.factorKeys?.previous).toEqual([{ id: '2025-q4', key: old }]);
    const named = load({ STEPGATE_FACTOR_KEY: current.toString('base64'), STEPGATE_FACTOR_KEY_ID: 'k-2026' });
    expect(named.secrets.factorKeys?.current.id).toBe('k-2026');
    // Compose passes a variable the operator left out as "": that is no key id, not a bad one.
    const unnamed = load({ STEPGATE_FACTOR_KEY: current.toString('base64'), STEPGATE_FACTOR_KEY_ID: '' });
    expect(unnamed.secrets.factorKeys?.current.id).toBe(derivedKeyId(current));
  });

  it('reports every problem of the file and the environment at once', () => {
    const env = { STEPGATE_FACTOR_KEY: 'c2hvcnQ=', STEPGATE_TOKEN_SIGNING_KEY: '{"kty":"RSA"}' };
    const problems = problemsOf(() =>
      load(env, (doc) => {
        doc.challenge.maxAttempts = 0;
        doc.challenge.methods.critical = ['sms'];
        doc.challenge.totp = { issuer: 'StepGate', digits: 6, periodSeconds: 30, window: 3 };
      }),
    ).join('\n');
    expect(problems).toMatch(/challenge\.maxAttempts/);
    expect(problems).toMatch(/challenge\.methods\.critical/);
    expect(problems).toMatch(/challenge\.totp\.window/);
    expect(problems).toMatch(/STEPGATE_FACTOR_KEY: must be the base64 encoding of exactly 32 bytes/);
    expect(problems).toMatch(/STEPGATE_TOKEN_SIGNING_KEY: not a private EC P-256 JWK/);
  });

  it('refuses an acr that is not one of the policy levels', () => {
    expect(problemsOf(() => load({}, (doc) => (doc.challenge.methodAcr = { totp: 'urn:x' })))).toEqual([
      expect.stringMatching(/challenge\.methodAcr\.totp.*not one of policy\.acr\.levels/),
    ]);
  });

  it('refuses a token issuer the gateway would not accept', () => {
    expect(problemsOf(() => load({}, (doc) => (doc.challenge.tokens.issuer = 'urn:other')))).toEqual([
      expect.stringMatching(/challenge\.tokens\.issuer.*differs from gateway\.challenge\.issuer/),
    ]);
  });

  it('refuses a shared-secret algorithm for access tokens', () => {
    const problems = problemsOf(() =>
      load({}, (doc) => {
        const [first] = doc.gateway.issuers as Record<string, unknown>[];
        first!.algorithms = ['HS256'];
      }),
    );
    expect(problems).toEqual([expect.stringMatching(/gateway\.issuers\.0\.algorithms\.0/)]);
  });

  it('refuses to run in production without a factor key', () => {
    expect(problemsOf(() => load({ NODE_ENV: 'production' }))).toEqual([
      expect.stringMatching(/STEPGATE_FACTOR_KEY: required/),
    ]);
  });

  it('takes its secrets from *_FILE files, as compose and Kubernetes secrets give them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'challenge-secrets-'));
    const current = randomBytes(32);
    const old = randomBytes(32);
    writeFileSync(join(dir, 'factor'), `${current.toString('base64')}\n`);
    writeFileSync(join(dir, 'previous'), `old:${old.toString('base64')}\n`);
    writeFileSync(join(dir, 'signing'), `${JSON.stringify(jwk)}\n`);
    const config = load({
      NODE_ENV: 'production',
      STEPGATE_FACTOR_KEY_FILE: join(dir, 'factor'),
      STEPGATE_FACTOR_PREVIOUS_KEYS_FILE: join(dir, 'previous'),
      STEPGATE_TOKEN_SIGNING_KEY_FILE: join(dir, 'signing'),
    });
    expect(config.secrets.factorKeys).toEqual({
      current: { id: derivedKeyId(current), key: current },
      previous: [{ id: 'old', key: old }],
    });
    expect(config.secrets.signingJwk).toEqual(jwk);
  });

  describe('with a demo secrets directory', () => {
    function demoDir(files: Record<string, string>): string {
      const dir = mkdtempSync(join(tmpdir(), 'challenge-demo-'));
      for (const [name, content] of Object.entries(files))
        writeFileSync(join(dir, name), content, { mode: 0o600 });
      return dir;
    }

    function loadWarning(env: Record<string, string>) {
      const warnings: string[] = [];
      const config = loadChallengeConfig(readRuntimeEnv({ STEPGATE_CONFIG: repoConfig, ...env }), (m) =>
        warnings.push(m),
      );
      return { config, warnings };
    }

    it('uses the demo factor and signing keys in production, warning once per secret', () => {
      const key = randomBytes(32);
      const dir = demoDir({
        'factor-key': `${key.toString('base64')}\n`,
        'token-signing-key.jwk': JSON.stringify(jwk),
      });
      const env = { NODE_ENV: 'production', STEPGATE_DEMO_SECRETS_DIR: dir };
      const { config, warnings } = loadWarning(env);
      expect(config.secrets).toEqual({
        factorKeys: { current: { id: derivedKeyId(key), key }, previous: [] },
        signingJwk: jwk,
      });
      expect(warnings).toEqual([
        expect.stringMatching(/^DEMO SECRET IN USE: STEPGATE_FACTOR_KEY .*factor-key/),
        expect.stringMatching(/^DEMO SECRET IN USE: STEPGATE_TOKEN_SIGNING_KEY .*token-signing-key\.jwk/),
      ]);
      // Loaded again in the same process (the embedded mode checks, then builds): no second warning.
      expect(loadWarning(env).warnings).toEqual([]);
    });

    it("prefers the operator's secrets, and warns only for the demo ones", () => {
      const own = randomBytes(32);
      const dir = demoDir({
        'factor-key': `${randomBytes(32).toString('base64')}\n`,
        'token-signing-key.jwk': JSON.stringify(jwk),
      });
      const { config, warnings } = loadWarning({
        STEPGATE_FACTOR_KEY: own.toString('base64'),
        STEPGATE_DEMO_SECRETS_DIR: dir,
      });
      expect(config.secrets.factorKeys?.current.key).toEqual(own);
      expect(warnings).toEqual([expect.stringMatching(/STEPGATE_TOKEN_SIGNING_KEY/)]);
    });

    it('refuses a missing factor key, saying the init step did not run; a missing signing key stays optional', () => {
      const dir = demoDir({});
      expect(problemsOf(() => load({ NODE_ENV: 'production', STEPGATE_DEMO_SECRETS_DIR: dir }))).toEqual([
        expect.stringMatching(
          /^STEPGATE_FACTOR_KEY: not set, .*factor-key: the demo-secrets init step did not run/,
        ),
      ]);
      const withKey = demoDir({ 'factor-key': randomBytes(32).toString('base64') });
      expect(loadWarning({ STEPGATE_DEMO_SECRETS_DIR: withKey }).config.secrets.signingJwk).toBeNull();
    });

    it('names the demo file a bad key came from', () => {
      const dir = demoDir({ 'factor-key': 'c2hvcnQ=\n', 'token-signing-key.jwk': '{"kty":"EC"}' });
      expect(problemsOf(() => load({ STEPGATE_DEMO_SECRETS_DIR: dir }))).toEqual([
        `STEPGATE_FACTOR_KEY (from ${join(dir, 'factor-key')}): must be the base64 encoding of exactly 32 bytes`,
        expect.stringMatching(
          new RegExp(
            `^STEPGATE_TOKEN_SIGNING_KEY \\(from ${join(dir, 'token-signing-key\\.jwk')}\\): not a private EC P-256 JWK`,
          ),
        ),
      ]);
    });
  });
});

const jwk = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI',
  kid: 'demo',
};
