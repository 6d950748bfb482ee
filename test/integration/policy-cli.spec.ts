// `npm run policy -- check FILE` as operators and CI run it: the built CLI in a child process, on the shipped
// config and on a broken copy, judged by its exit code and what it prints.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entry, ROOT } from '../support/processes';

const shipped = readFileSync(join(ROOT, 'config/stepgate.yaml'), 'utf8');

function policy(...args: string[]) {
  const run = spawnSync(process.execPath, [entry('stepgate', 'policy.cli.js'), ...args], {
    cwd: ROOT,
    // No STEPGATE_* variables: every ${ENV} reference takes its default, as on a fresh machine.
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  expect(at).toBeGreaterThanOrEqual(0);
  return text.slice(0, at).split('\n').length;
}

describe('npm run policy -- check', () => {
  it('exits 0 with a summary for the shipped config', () => {
    const run = policy('check', 'config/stepgate.yaml');
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(run.stdout).toMatch(/^config\/stepgate\.yaml: valid \(sha256 [0-9a-f]{12}\)$/m);
    expect(run.stdout).toContain('routes (4, first match wins):');
    expect(run.stdout).toMatch(/^ {2}payments: \/api\/payments\/\*\* -> demo \(low allow, medium step_up/m);
    expect(run.stdout).toContain('risk thresholds: medium 30, high 60, critical 85');
    expect(run.stdout).toMatch(/^risk policy version: lr-2\/cfg-[0-9a-f]{8}$/m);
  });

  it('exits 1 and prints every problem as FILE:LINE:COL path: message', () => {
    const text = shipped
      .replace('      onRiskUnavailable: allow', '      onRiskUnavaliable: allow')
      .replace('    badIp: 60', '    badIP: 60')
      .replace('thresholds: { medium: 30,', 'thresholds: { medium: lots,')
      .replace('  maxAttempts: 5', '  maxAttempts: 50');
    const file = join(mkdtempSync(join(tmpdir(), 'stepgate-policy-')), 'broken.yaml');
    writeFileSync(file, text);
    const run = policy('check', file);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `${file}:${lineOf(text, 'onRiskUnavaliable')}:7 policy.routes.1.onRiskUnavaliable: unknown key "onRiskUnavaliable" (did you mean "onRiskUnavailable"?)`,
      `${file}:${lineOf(text, 'medium: lots')}:25 risk.thresholds.medium: Invalid input: expected number, received string`,
      // A missing key is reported at its parent.
      `${file}:${lineOf(text, '  weights:')}:3 risk.weights.badIp: required key is missing`,
      `${file}:${lineOf(text, 'badIP')}:5 risk.weights.badIP: unknown key "badIP" (did you mean "badIp"?)`,
      `${file}:${lineOf(text, 'maxAttempts: 50')}:16 challenge.maxAttempts: Too big: expected number to be <=20`,
      `${file}: 5 problems`,
    ]);
  });

  it('exits 1 on a file that is not YAML, and 2 when used wrongly', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'stepgate-policy-')), 'syntax.yaml');
    writeFileSync(file, 'policy:\n  routes: [\n');
    const run = policy('check', file);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^${file}:3:1: .+`, 'm'));
    expect(policy('check').status).toBe(2);
  });
});
