// The demo secrets as compose's stepgate-secrets service and the services meet them: the built generator in a
// child process, then the challenge service's `--check-config` (which starts nothing) reading what it wrote,
// and refusing, through main.ts, what it must refuse. The compose rehearsal covers the services running.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entry, ROOT } from '../support/processes';

function run(file: string, args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [file, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const generator = (env: Record<string, string>, ...args: string[]) =>
  run(entry('stepgate', 'demo-secrets.js'), args, env);
const checkChallenge = (env: Record<string, string>) =>
  run(entry('challenge'), ['--check-config'], { NODE_ENV: 'production', ...env });

describe('demo secrets (node dist/apps/stepgate/src/demo-secrets.js)', () => {
  it('generates once, changes nothing the second time, and the challenge service takes them in production', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'demo-secrets-cli-')), 'demo-secrets');
    const first = generator({ STEPGATE_DEMO_SECRETS_DIR: dir });
    expect(first).toMatchObject({ status: 0, stderr: '' });
    expect(first.stdout.trimEnd().split('\n')).toHaveLength(4);
    expect(first.stdout).toMatch(/^STEPGATE_FACTOR_KEY: generated /m);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['factor-key', 'gateway-signing-key.jwk', 'session-key', 'token-signing-key.jwk']);
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    const before = files.map((f) => readFileSync(join(dir, f), 'utf8'));
    for (const content of before) expect(first.stdout).not.toContain(content.trim());

    const second = generator({}, dir);
    expect(second.status).toBe(0);
    expect(second.stdout).not.toContain('generated');
    expect(files.map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(before);

    const check = checkChallenge({ STEPGATE_DEMO_SECRETS_DIR: dir });
    expect(check.status).toBe(0);
    expect(check.stdout.match(/DEMO SECRET IN USE/g)).toHaveLength(2);
  });

  it('is off, writing nothing, when STEPGATE_DEMO_SECRETS_DIR is empty', () => {
    const result = generator({ STEPGATE_DEMO_SECRETS_DIR: '' });
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(result.stdout).toMatch(/^demo secrets are disabled/);
  });

  it('makes a service refuse to start, naming the variables, when the init step did not run or a secret is given twice', () => {
    const empty = mkdtempSync(join(tmpdir(), 'demo-secrets-empty-'));
    const missing = checkChallenge({ STEPGATE_DEMO_SECRETS_DIR: empty });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(
      `STEPGATE_FACTOR_KEY: not set, and STEPGATE_DEMO_SECRETS_DIR has no ${join(empty, 'factor-key')}: the demo-secrets init step did not run`,
    );
    const file = join(empty, 'key');
    writeFileSync(file, 'c2VjcmV0\n');
    const twice = checkChallenge({ STEPGATE_FACTOR_KEY: 'c2VjcmV0', STEPGATE_FACTOR_KEY_FILE: file });
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain('STEPGATE_FACTOR_KEY and STEPGATE_FACTOR_KEY_FILE are both set');
    expect(twice.stderr).not.toContain('c2VjcmV0');
  });
});
