// `npm run policy -- simulate` as an operator runs it: the built CLI in a child process against a SQLite
// database that the real risk service filled, judged by exit code and output.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { readRuntimeEnv } from '@stepgate/config';
import type { AccessEvent } from '@stepgate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssessmentService } from '../../apps/risk/src/assessments/assessment.service';
import type { BacktestReport } from '../../apps/risk/src/backtest/backtest.engine';
import { loadRiskConfig } from '../../apps/risk/src/config';
import { RiskModule } from '../../apps/risk/src/risk.module';
import { factories } from '../support/factories';
import { entry, ROOT } from '../support/processes';

const dir = mkdtempSync(join(tmpdir(), 'stepgate-simulate-cli-'));
const dataDir = join(dir, 'data');

function policy(...args: string[]) {
  const run = spawnSync(process.execPath, [entry('stepgate', 'policy.cli.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', STEPGATE_DATA_DIR: dataDir },
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function candidateFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('npm run policy -- simulate', () => {
  const events: AccessEvent[] = [];

  beforeAll(async () => {
    const runtime = readRuntimeEnv({
      STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
      STEPGATE_DATA_DIR: dataDir,
      STEPGATE_RISK_PORT: '0',
      STEPGATE_INSTANCE_ID: `simulate-cli-${randomUUID()}`,
    });
    const config = { ...loadRiskConfig(runtime), reload: { watch: false, debounceMs: 0 } };
    const app = await NestFactory.createApplicationContext(RiskModule.forRoot(config, runtime), {
      logger: ['error'],
    });
    try {
      // Three subjects, each: a new device (medium) then two accesses from it (unconfirmed: medium), all on
      // payments; the second subject's from 8.8.8.8.
      for (let s = 0; s < 3; s++) {
        for (let i = 0; i < 3; i++) {
          events.push(
            factories.access({
              subject: `cli-${s}`,
              deviceId: 'd-1',
              clientIp: s === 1 ? '8.8.8.8' : '81.2.69.142',
              route: 'payments',
              decision: 'allow',
            }),
          );
        }
      }
      await app.get(AssessmentService).onAccessBatch(events);
    } finally {
      await app.close();
    }
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the JSON report with --json', () => {
    const file = candidateFile('bad-ip.yaml', 'risk:\n  lists:\n    badIps: [8.8.8.0/24]\n');
    const run = policy('simulate', '--candidate', file, '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as BacktestReport;
    expect(report.events.considered).toBe(events.length);
    expect(report.events.inForceDiffersFromRecorded).toBe(0);
    expect(report.inForce).toMatchObject({ step_up: 9, deny: 0 });
    // new device 50 + bad IP 60, or unconfirmed 30 + bad IP 60 (and a new network's model points): critical.
    expect(report.candidate).toMatchObject({ step_up: 6, deny: 3 });
    expect(report.sample.every((s) => s.subject === 'cli-1' && s.candidate.decision === 'deny')).toBe(true);
  });

  it('prints a summary for a person by default, and honours the window', () => {
    const file = candidateFile('lenient.json', JSON.stringify({ risk: { thresholds: { medium: 55 } } }));
    const run = policy('simulate', '--candidate', file);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^backtest of 9 recorded accesses/m);
    expect(run.stdout).toMatch(/^step_up {3}9 \(100\.0%\) +\d+ \(/m);
    expect(run.stdout).toMatch(/^changed decisions: [1-9]\d* \(stricter 0, laxer [1-9]/m);
    expect(run.stdout).toContain('changed decisions (sample):');
    const later = policy(
      'simulate',
      '--candidate',
      file,
      '--from',
      new Date(Date.now() + 60_000).toISOString(),
      '--json',
    );
    expect((JSON.parse(later.stdout) as BacktestReport).events.considered).toBe(0);
  });

  it('exits 1 with every problem of an invalid candidate, 2 on wrong usage', () => {
    const file = candidateFile('bad.yaml', 'risk:\n  thresholds: { medium: 90 }\n  monitor: [shoe_size]\n');
    const run = policy('simulate', '--candidate', file);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${file}: risk.thresholds: must increase`);
    expect(run.stderr).toContain(`${file}: risk.monitor.0: must be a signal`);
    expect(run.stderr).toContain(`${file}: 2 problems`);
    expect(policy('simulate').status).toBe(2);
    expect(policy('simulate', '--candidate', file, '--from', 'someday').status).toBe(2);
    // Without a zone the time would depend on the machine's; a bare number would pass as a year.
    expect(policy('simulate', '--candidate', file, '--from', '2026-11-01T00:00').status).toBe(2);
    expect(policy('simulate', '--candidate', file, '--from', '1').status).toBe(2);
  });
});
