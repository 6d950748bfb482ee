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
});
