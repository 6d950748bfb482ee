// The generator behind compose's one-shot `stepgate-secrets` service (docs/adr/0015): writes each secret the
// operator did not supply and the directory does not hold yet, once, into the shared volume. Never prints one.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_SECRET_FILES, DEMO_SECRETS_DIR, type DemoSecretName } from '@stepgate/config';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export const DEMO_SECRETS_USAGE = `Usage: node dist/apps/stepgate/src/demo-secrets.js [DIR]

Generates into DIR (default: $${DEMO_SECRETS_DIR}) each demo secret that is missing there and that this
process's environment does not supply (as NAME or NAME_FILE). Safe to run again: it never replaces a file.
With no DIR and ${DEMO_SECRETS_DIR} empty or unset, demo secrets are off and nothing is written.`;

export type DemoSecretOutcome =
  | { name: DemoSecretName; path: string; outcome: 'generated' | 'kept' }
  /** `by`: the variable that supplies it. */
  | { name: DemoSecretName; path: string; outcome: 'supplied'; by: string };

type Env = Record<string, string | undefined>;

/** base64 of 32 random bytes: the factor key and the session key. */
const randomKey = (): Promise<string> => Promise.resolve(randomBytes(32).toString('base64'));

/** A private EC P-256 JWK with its thumbprint as kid, the form both services read. */
async function privateJwk(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y });
  return JSON.stringify({ kty, crv, x, y, d, kid });
}

const MAKE: Record<DemoSecretName, () => Promise<string>> = {
  STEPGATE_FACTOR_KEY: randomKey,
  STEPGATE_SESSION_KEY: randomKey,
  STEPGATE_GATEWAY_SIGNING_KEY: privateJwk,
  STEPGATE_TOKEN_SIGNING_KEY: privateJwk,
};

/**
 * Generates into `dir` (created 0700 if missing) each secret `env` does not supply and `dir` does not hold,
 * as a 0600 file. Idempotent: an existing file is kept whatever it holds, so the keys services already use
 * (and the factor secrets sealed with them) survive every later run.
 */
export async function ensureDemoSecrets(dir: string, env: Env): Promise<DemoSecretOutcome[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const outcomes: DemoSecretOutcome[] = [];
  for (const name of Object.keys(DEMO_SECRET_FILES) as DemoSecretName[]) {
    const path = join(dir, DEMO_SECRET_FILES[name]);
    const by = env[name] ? name : env[`${name}_FILE`] ? `${name}_FILE` : undefined;
    if (by) outcomes.push({ name, path, outcome: 'supplied', by });
    else if (existsSync(path)) outcomes.push({ name, path, outcome: 'kept' });
    else {
      const written = writeNew(path, `${await MAKE[name]()}\n`);
      outcomes.push({ name, path, outcome: written ? 'generated' : 'kept' });
    }
  }
  if (outcomes.some((o) => o.outcome === 'generated')) syncDirectory(dir);
  return outcomes;
}

/**
 * Writes `content` to `path` unless it exists; false when another run got there first. Written to a draft
 * beside it (0600, flushed), then linked into place: a link never replaces a file, so two runs racing agree
 * on one key, and a reader never sees half a file. Where the file system has no hard links, a rename.
 */
function writeNew(path: string, content: string): boolean {
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(draft, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(draft, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    renameSync(draft, path);
    return true;
  } finally {
    if (existsSync(draft)) unlinkSync(draft);
  }
}

/** So the new names survive a crash as well as their contents; best effort (not every platform can). */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // A directory that cannot be opened for sync still holds the files.
  }
}

export function describeOutcome(o: DemoSecretOutcome): string {
  switch (o.outcome) {
    case 'generated':
      return `${o.name}: generated ${o.path} (a DEMO secret, not for production: docs/OPERATIONS.md#secrets)`;
    case 'kept':
      return `${o.name}: kept ${o.path}`;
    case 'supplied':
      return `${o.name}: supplied by the operator (${o.by}); nothing written`;
  }
}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const parseCli = (argv: string[]) =>
  parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });

/** The whole command: arguments in, lines out, the exit code back. */
export async function runDemoSecretsCli(argv: string[], env: Env, io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${DEMO_SECRETS_USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    io.out(DEMO_SECRETS_USAGE);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    io.err(DEMO_SECRETS_USAGE);
    return 2;
  }
  const dir = parsed.positionals[0] || env[DEMO_SECRETS_DIR];
  if (!dir) {
    io.out(
      `demo secrets are disabled (${DEMO_SECRETS_DIR} is empty or unset, and no directory was given): nothing written`,
    );
    return 0;
  }
  let outcomes: DemoSecretOutcome[];
  try {
    outcomes = await ensureDemoSecrets(resolve(dir), env);
  } catch (err) {
    // A file system error names the path and the reason, never content.
    io.err(`demo secrets: cannot write to ${resolve(dir)}: ${(err as Error).message}`);
    return 1;
  }
  for (const o of outcomes) io.out(describeOutcome(o));
  return 0;
}
