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
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssessmentService } from '../../apps/risk/src/assessments/assessment.service';
import type { BacktestReport } from '../../apps/risk/src/backtest/backtest.engine';
import { loadRiskConfig } from '../../apps/risk/src/config';
import { PolicyVersionEntity } from '../../apps/risk/src/policy/policy-version.entity';
import { riskDataSourceOptions } from '../../apps/risk/src/database/risk.data-source';
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

  it('takes the policy in force from the newest policy version in the database', async () => {
    const file = candidateFile('nothing.yaml', '{}');
    // Risk recorded the file's policy as version 1 when it started (beforeAll).
    expect(policy('simulate', '--candidate', file).stderr).toMatch(
      /^policy in force: version 1 \(by file:stepgate\.yaml, \d{4}-\d\d-\d\dT[\d:.]+Z; the newest in the database\)$/m,
    );
    const db = new DataSource({
      ...riskDataSourceOptions({ dataDir, databaseUrl: undefined }),
      migrationsRun: false,
      logging: ['error'],
    });
    await db.initialize();
    const versions = db.getRepository(PolicyVersionEntity);
    try {
      const [head] = await versions.find({ order: { version: 'DESC' }, take: 1 });
      type Document = {
        risk: { thresholds: Record<string, number> };
        policy: { routes: { id: string; decisions: Record<string, string> }[] };
      };
      const append = async (version: number, change: (d: Document) => void) => {
        const document = JSON.parse(head!.document) as Document;
        change(document);
        await versions.insert({
          ...head!,
          version,
          document: JSON.stringify(document),
          author: 'alice',
          source: 'api',
          createdAt: Date.now(),
        });
      };
      // An admin's change through the API: the nine accesses are low under its thresholds, and payments
      // denies at low.
      await append(2, (d) => {
        d.risk.thresholds = { medium: 97, high: 98, critical: 99 };
        d.policy.routes.find((r) => r.id === 'payments')!.decisions.low = 'deny';
      });
      const text = policy('simulate', '--candidate', file);
      expect(text.status).toBe(0);
      expect(text.stderr).toMatch(/^policy in force: version 2 \(by alice, /m);
      const report = JSON.parse(policy('simulate', '--candidate', file, '--json').stdout) as BacktestReport;
      expect(report.inForce).toMatchObject({ allow: 0, step_up: 0, deny: 9 });
      expect(report.levels.inForce.low).toBe(9);
      // A newest version risk would refuse too: no backtest on a policy that is not in force anywhere.
      await append(3, (d) => {
        d.risk.thresholds = { medium: 90, high: 80, critical: 99 };
      });
      const refused = policy('simulate', '--candidate', file);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('policy version 3: risk: thresholds: must increase');
    } finally {
      await versions.delete({ version: 2 });
      await versions.delete({ version: 3 });
      await db.destroy();
    }
    expect(policy('simulate', '--candidate', file).stderr).toMatch(/^policy in force: version 1 /m);
  });
});
