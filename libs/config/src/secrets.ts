// Secrets the way containers hand them over: NAME, or NAME_FILE naming a file that holds it (compose and
// Kubernetes secrets); and, for a demo, files a generator wrote into STEPGATE_DEMO_SECRETS_DIR (docs/adr/0015).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from './config.loader';

/** Every variable that holds a secret; each may instead be read from the file its `_FILE` variable names. */
export const SECRET_NAMES = [
  'STEPGATE_FACTOR_KEY',
  'STEPGATE_FACTOR_PREVIOUS_KEYS',
  'STEPGATE_TOKEN_SIGNING_KEY',
  'STEPGATE_SESSION_KEY',
  'STEPGATE_GATEWAY_SIGNING_KEY',
  'DATABASE_URL',
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

export const DEMO_SECRETS_DIR = 'STEPGATE_DEMO_SECRETS_DIR';

/** The secrets a demo may generate, and the file each is kept in under STEPGATE_DEMO_SECRETS_DIR. */
export const DEMO_SECRET_FILES = {
  STEPGATE_FACTOR_KEY: 'factor-key',
  STEPGATE_SESSION_KEY: 'session-key',
  STEPGATE_GATEWAY_SIGNING_KEY: 'gateway-signing-key.jwk',
  STEPGATE_TOKEN_SIGNING_KEY: 'token-signing-key.jwk',
} as const satisfies Partial<Record<SecretName, string>>;
export type DemoSecretName = keyof typeof DEMO_SECRET_FILES;

/** What the command that generates demo secrets is, for messages that tell an operator to run it. */
export const DEMO_SECRETS_COMMAND = 'node dist/apps/stepgate/src/demo-secrets.js';

export type ReadFile = (path: string) => string;
const readUtf8: ReadFile = (path) => readFileSync(path, 'utf8');

type Env = Record<string, string | undefined>;

/**
 * The environment with each secret NAME taken from NAME or from the file NAME_FILE names (one trailing line
 * break dropped); an empty value counts as unset. Throws ConfigError listing every problem, naming variables
 * and paths, never what a file holds. The input is not changed.
 */
export function resolveSecretFiles(env: Env, read: ReadFile = readUtf8): Env {
  const resolved: Env = { ...env };
  const problems: string[] = [];
  for (const name of SECRET_NAMES) {
    const fileVariable = `${name}_FILE`;
    const value = env[name] || undefined;
    const path = env[fileVariable] || undefined;
    if (value !== undefined && path !== undefined) {
      problems.push(`${name} and ${fileVariable} are both set: set only one of them`);
    } else if (path !== undefined) {
      const file = readSecretFile(path, read);
      if ('problem' in file) problems.push(`${fileVariable}: ${file.problem}`);
      else resolved[name] = file.value;
    } else {
      resolved[name] = value;
    }
  }
  if (problems.length > 0) throw new ConfigError('environment', problems);
  return resolved;
}

/** Where a secret a service needs came from. */
export type SecretLookup =
  | { source: 'environment'; name: DemoSecretName; value: string }
  | { source: 'demo'; name: DemoSecretName; value: string; path: string }
  /** Nowhere; `problem` says why that is an error here (the demo directory is set but lacks it). */
  | { source: 'none'; name: DemoSecretName; problem?: string };

/**
 * A secret from the environment (NAME or NAME_FILE, already resolved by readRuntimeEnv), else from
 * STEPGATE_DEMO_SECRETS_DIR when that is set. A file missing there is a problem unless the secret is
 * `optional` (the service has its own way to make it); an unreadable or empty one always is.
 */
export function lookupSecret(
  env: Env,
  name: DemoSecretName,
  options: { optional?: boolean } = {},
): SecretLookup {
  const value = env[name];
  if (value) return { source: 'environment', name, value };
  const dir = env[DEMO_SECRETS_DIR];
  if (!dir) return { source: 'none', name };
  const path = join(resolve(dir), DEMO_SECRET_FILES[name]);
  const file = readSecretFile(path, readUtf8);
  if (!('problem' in file)) return { source: 'demo', name, value: file.value, path };
  if (file.missing && options.optional) return { source: 'none', name };
  const problem = file.missing
    ? `not set, and ${DEMO_SECRETS_DIR} has no ${path}: the demo-secrets init step did not run ` +
      `(compose's stepgate-secrets service, or \`${DEMO_SECRETS_COMMAND}\`). ` +
      `Supply ${name} or ${name}_FILE, or set ${DEMO_SECRETS_DIR} empty to turn demo secrets off`
    : `${file.problem} (from ${DEMO_SECRETS_DIR})`;
  return { source: 'none', name, problem: `${name}: ${problem}` };
}

/** How a message names a secret: the variable, and the demo file when it came from one. */
export function secretLabel(lookup: SecretLookup): string {
  return lookup.source === 'demo' ? `${lookup.name} (from ${lookup.path})` : lookup.name;
}

export function demoSecretWarning(lookup: { name: DemoSecretName; path: string }): string {
  return (
    `DEMO SECRET IN USE: ${lookup.name} is a generated demo secret read from ${lookup.path} ` +
    `(${DEMO_SECRETS_DIR}). Not for production: anyone who can read that volume holds it. Supply your own as ` +
    `${lookup.name} or ${lookup.name}_FILE (docs/OPERATIONS.md#secrets), and set ${DEMO_SECRETS_DIR} empty ` +
    'so that a missing secret stops the service instead.'
  );
}

const announced = new Set<string>();

/**
 * Warns once per process for each demo secret in use: the embedded mode loads a service's config more than
 * once (checked, then built), and an operator needs the warning once, not once per load.
 */
/**
 * A readiness warning while this process runs on demo secrets (they satisfy production mode when the
 * operator points STEPGATE_DEMO_SECRETS_DIR at them, as the compose demo does): said on every probe, not only
 * once in the log at start.
 */
export function demoSecretsReadinessWarnings(): string[] {
  const names = [...new Set([...announced].map((key) => key.split('\0')[0]!))].sort();
  return names.length === 0
    ? []
    : [
        `demo secrets in use (${names.join(', ')}): generated for the demo, supply your own (docs/OPERATIONS.md#secrets)`,
      ];
}

export function announceDemoSecrets(lookups: readonly SecretLookup[], warn: (message: string) => void): void {
  for (const lookup of lookups) {
    if (lookup.source !== 'demo') continue;
    const key = `${lookup.name}\0${lookup.path}`;
    if (announced.has(key)) continue;
    announced.add(key);
    warn(demoSecretWarning(lookup));
  }
}

function readSecretFile(
  path: string,
  read: ReadFile,
): { value: string } | { problem: string; missing: boolean } {
  let text: string;
  try {
    text = read(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The code only, never the error's own text: nothing of a secret file may reach a log.
    return { problem: `cannot read ${path} (${describeCode(code)})`, missing: code === 'ENOENT' };
  }
  const value = text.replace(/\r?\n$/, '');
  return value === '' ? { problem: `${path} is empty`, missing: false } : { value };
}

const CODE_WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'a directory, not a file',
};

function describeCode(code: string | undefined): string {
  return code ? (CODE_WORDS[code] ?? code) : 'unreadable';
}
