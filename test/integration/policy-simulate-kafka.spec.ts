// `npm run policy -- simulate --kafka` as an operator runs it: the built CLI in a child process, reading the
// access and challenge outcome topics of a Kafka of the spec's own and rebuilding the history into a
// throwaway database, judged against the same CLI over risk databases filled from the same events.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { readRuntimeEnv } from '@stepgate/config';
import { TOPICS, type AccessEvent, type ChallengeOutcome } from '@stepgate/contracts';
import { documentHash, loadFileDocument } from '@stepgate/policy';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssessmentService } from '../../apps/risk/src/assessments/assessment.service';
import type { BacktestReport } from '../../apps/risk/src/backtest/backtest.engine';
import { loadRiskConfig, riskSectionSchema } from '../../apps/risk/src/config';
import { RetentionService } from '../../apps/risk/src/profiles/retention.service';
import { RiskModule } from '../../apps/risk/src/risk.module';
import { factories } from '../support/factories';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';
import { kafkaClient } from '../support/kafka-probe';
import { entry, ROOT } from '../support/processes';

const dir = mkdtempSync(join(tmpdir(), 'stepgate-simulate-kafka-'));
/** The CLI's TMPDIR: the rebuilt database goes there (not /dev/shm), so the spec sees it removed. */
const scratch = join(dir, 'tmp');
const T0 = Date.parse('2026-05-01T00:00:00Z');
const HOUR = 3_600_000;
const SUBJECTS = 6;
const PER_SUBJECT = 40;
const HOME_IPS = ['81.2.69.142', '90.196.1.1', '2.125.160.216'];
const KEPT = 10;

interface History {
  accesses: AccessEvent[];
  outcomes: ChallengeOutcome[];
}

/**
 * Six subjects, an access an hour for 40 hours each, at home on one device, on payments (steps up at medium)
 * or reports. Each starts on a new device, stepped up: the even ones pass the challenge (their device is
 * confirmed: low from then on), the odd ones never do (unconfirmed: medium). Two more new devices each,
 * challenged and passed by the subjects divisible by three, failed by the others; kafka-2 and kafka-4 are
 * back on their own device five minutes after failing, on payments (failed challenge: 10 points, low in
 * force). The odd ones are abroad now and then. Five accesses on no route, five anonymous.
 */
function history(): History {
  const accesses: AccessEvent[] = [];
  const outcomes: ChallengeOutcome[] = [];
  const iso = (t: number) => new Date(t).toISOString();
  for (let s = 0; s < SUBJECTS; s++) {
    const subject = `kafka-${s}`;
    const ip = (i: number) => (s % 2 === 1 && i % 13 === 12 ? '8.8.8.8' : HOME_IPS[s % HOME_IPS.length]!);
    const payments = { route: 'payments', path: '/api/payments/1' };
    for (let i = 0; i < PER_SUBJECT; i++) {
      const t = T0 + i * HOUR + s * 60_000;
      const newDevice = i === 20 || i === 35;
      const deviceId = newDevice ? `d-new-${i}` : 'd-home';
      const challenged = i === 0 || newDevice;
      accesses.push(
        factories.access({
          subject,
          time: iso(t),
          deviceId,
          clientIp: ip(i),
          ...(i % 3 === 1 ? payments : { route: 'reports', path: '/api/reports/1' }),
          decision: challenged ? 'step_up' : 'allow',
        }),
      );
      if (!challenged || (i === 0 && s % 2 === 1)) continue;
      const passed = i === 0 || s % 3 === 0;
      outcomes.push(
        factories.outcome({ subject, deviceId, time: iso(t + 30_000), result: passed ? 'passed' : 'failed' }),
      );
      if (!passed && s % 2 === 0)
        accesses.push(
          factories.access({
            subject,
            time: iso(t + 5 * 60_000),
            deviceId: 'd-home',
            clientIp: ip(i),
            ...payments,
          }),
        );
    }
  }
  for (let k = 0; k < 5; k++) {
    const t = T0 + (k * 7 + 3) * HOUR + 30 * 60_000;
    accesses.push(factories.access({ subject: 'kafka-0', time: iso(t), route: null, path: '/nowhere' }));
    accesses.push(
      factories.access({ subject: null, time: iso(t), route: null, decision: 'unauthenticated' }),
    );
  }
  return { accesses, outcomes };
}

/** Feeds risk in event-time order, one access at a time, as a consumer keeping up would have. */
async function fillDatabase(dataDir: string, h: History, keepPerSubject: number): Promise<void> {
  const runtime = readRuntimeEnv({
    STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
    STEPGATE_DATA_DIR: dataDir,
    STEPGATE_RISK_PORT: '0',
    STEPGATE_INSTANCE_ID: `simulate-kafka-${randomUUID()}`,
  });
  const file = loadRiskConfig(runtime);
  const config = {
    ...file,
    retention: { ...file.retention, assessmentsPerSubject: keepPerSubject },
    reload: { watch: false, debounceMs: 0 },
  };
  const app = await NestFactory.createApplicationContext(RiskModule.forRoot(config, runtime), {
    logger: ['error'],
  });
  try {
    const service = app.get(AssessmentService);
    const steps = [
      ...h.accesses.map((a) => ({ time: Date.parse(a.time), run: () => service.onAccess(a) })),
      ...h.outcomes.map((o) => ({ time: Date.parse(o.time), run: () => service.onChallengeOutcome(o) })),
    ].sort((a, b) => a.time - b.time);
    for (const step of steps) await step.run();
    await app.get(RetentionService).trimAssessments();
  } finally {
    await app.close();
  }
}

function policy(env: Record<string, string>, ...args: string[]) {
  const run = spawnSync(process.execPath, [entry('stepgate', 'policy.cli.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', TMPDIR: scratch, KAFKA_MAX_WAIT_MS: '25', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const json = (run: { stdout: string; stderr: string }): BacktestReport => {
  try {
    return JSON.parse(run.stdout) as BacktestReport;
  } catch {
    throw new Error(`not a JSON report:\n${run.stdout}\n${run.stderr}`);
  }
};

describe('npm run policy -- simulate --kafka', () => {
  const h = history();
  const fullDir = join(dir, 'full');
  const trimmedDir = join(dir, 'trimmed');
  const candidate = join(dir, 'candidate.yaml');
  let kafka: KafkaForTests | undefined;
  let producer: Producer | undefined;

  beforeAll(async () => {
    mkdirSync(scratch, { recursive: true });
    writeFileSync(candidate, 'risk:\n  thresholds: { medium: 10 }\n');
    kafka = await startOwnKafka();
    producer = kafkaClient(kafka.brokers).producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const send = async (topic: string, values: { key: string; value: string }[]) => {
      for (let i = 0; i < values.length; i += 100)
        await producer!.send({ topic, acks: -1, messages: values.slice(i, i + 100) });
    };
    await send(
      TOPICS.access,
      h.accesses.map((a) => ({ key: a.subject ?? `ip:${a.clientIp}`, value: JSON.stringify(a) })),
    );
    await send(
      TOPICS.challengeOutcome,
      h.outcomes.map((o) => ({ key: o.subject, value: JSON.stringify(o) })),
    );
    // What a broken producer might leave: not JSON, and JSON of the wrong shape.
    await send(TOPICS.access, [
      { key: 'garbage', value: 'not json' },
      { key: 'garbage', value: JSON.stringify({ eventId: 'x', subject: 'kafka-0' }) },
    ]);
    await send(TOPICS.challengeOutcome, [{ key: 'garbage', value: '{"result":"passed"}' }]);
    await fillDatabase(fullDir, h, 10_000);
    await fillDatabase(trimmedDir, h, KEPT);
  }, 120_000);

  afterAll(async () => {
    await producer?.disconnect();
    await kafka?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Accesses of a subject (risk assesses those), on a route or any, in a window. */
  const assessed = (onRoute: boolean, from = -Infinity, to = Infinity) =>
    h.accesses.filter((a) => {
      const t = Date.parse(a.time);
      return a.subject !== null && (!onRoute || a.route !== null) && t >= from && t < to;
    }).length;
  const withRoute = () => assessed(true);

  it('backtests the whole history on the topics, as risk would have recorded it', () => {
    const run = policy(
      { STEPGATE_DATA_DIR: fullDir },
      'simulate',
      '--candidate',
      candidate,
      '--kafka',
      kafka!.brokers,
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = json(run);
    expect(report.events.considered).toBe(withRoute() + 5);
    expect(report.events.unknownRoute).toBe(5);
    expect(report.inForce.events).toBe(withRoute());
    expect(report.candidate.events).toBe(withRoute());
    // The rebuilt scores are the policy in force's: re-weighing them under it changes nothing.
    expect(report.events.inForceDiffersFromRecorded).toBe(0);
    // Back on a confirmed device minutes after a failed challenge: 10 points, low in force, medium now.
    expect(report.changed).toMatchObject({ decisions: 4, stricter: 4, laxer: 0 });
    expect(report.candidate.step_up).toBe(report.inForce.step_up + 4);
    expect([...report.subjects.newlyChallenged.sample].sort()).toEqual(['kafka-2', 'kafka-4']);
    expect(report.sample.every((c) => c.candidate.signals.some((x) => x.name === 'failed_challenges'))).toBe(
      true,
    );
    expect(report.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(
            `^history rebuilt from ${h.accesses.length} access events and ${h.outcomes.length} challenge outcomes`,
          ),
        ),
        expect.stringMatching(
          /^2 values on stepgate\.access\.v3 did not match the contract and were skipped/,
        ),
        expect.stringMatching(
          /^1 value on stepgate\.challenge\.outcome\.v1 did not match the contract and was skipped/,
        ),
      ]),
    );
    // Risk's own database, which kept everything, says the same.
    const db = json(policy({ STEPGATE_DATA_DIR: fullDir }, 'simulate', '--candidate', candidate, '--json'));
    for (const part of [
      'events',
      'inForce',
      'candidate',
      'changed',
      'levels',
      'signals',
      'subjects',
    ] as const)
      expect(report[part], part).toEqual(db[part]);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('sees the history a database that kept less has lost', () => {
    const db = json(
      policy({ STEPGATE_DATA_DIR: trimmedDir }, 'simulate', '--candidate', candidate, '--json'),
    );
    const topics = json(
      policy(
        { STEPGATE_DATA_DIR: trimmedDir },
        'simulate',
        '--candidate',
        candidate,
        '--kafka',
        kafka!.brokers,
        '--json',
      ),
    );
    // Retention kept each subject's newest KEPT assessments, challenge outcomes' included.
    let kept = 0;
    for (let s = 0; s < SUBJECTS; s++) {
      const subject = `kafka-${s}`;
      const newest = [
        ...h.accesses.filter((a) => a.subject === subject).map((a) => ({ t: a.time, access: true })),
        ...h.outcomes.filter((o) => o.subject === subject).map((o) => ({ t: o.time, access: false })),
      ]
        .sort((a, b) => Date.parse(b.t) - Date.parse(a.t))
        .slice(0, KEPT);
      kept += newest.filter((x) => x.access).length;
    }
    expect(db.events.considered).toBe(kept);
    expect(kept).toBeLessThan(SUBJECTS * KEPT);
    expect(topics.events.considered).toBe(withRoute() + 5);
    expect(topics.inForce.events).toBe(withRoute());
  });

  it('honours --from and --to, and says which policy it replayed under', () => {
    const from = T0 + 10 * HOUR;
    const to = T0 + 25 * HOUR;
    const iso = (t: number) => new Date(t).toISOString();
    const run = policy(
      {},
      'simulate',
      '--candidate',
      candidate,
      '--kafka',
      kafka!.brokers,
      '--from',
      iso(from),
      '--to',
      iso(to),
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(
      /^policy in force: the config file \S+ \(no risk database to read versions from and none on the policy topic\)$/m,
    );
    expect(run.stdout).toMatch(
      new RegExp(
        `^backtest of ${assessed(false, from, to)} recorded accesses \\(${iso(from)} to ${iso(to)}`,
        'm',
      ),
    );
    // Only what came before --to is replayed; everything before --from is learned from.
    const fed = h.accesses.filter((a) => Date.parse(a.time) < to).length;
    const outcomes = h.outcomes.filter((o) => Date.parse(o.time) < to).length;
    expect(run.stdout).toMatch(
      new RegExp(`^  - history rebuilt from ${fed} access events and ${outcomes} challenge outcomes`, 'm'),
    );
    const later = json(
      policy(
        {},
        'simulate',
        '--candidate',
        candidate,
        '--kafka',
        kafka!.brokers,
        '--from',
        iso(from),
        '--json',
      ),
    );
    expect(later.events.considered).toBe(assessed(false, from));
    expect(later.inForce.events).toBe(assessed(true, from));
    expect(Date.parse(later.window.firstEvent!)).toBeGreaterThanOrEqual(from);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('takes the policy in force from the policy topic when there is no risk database to read', async () => {
    const before = json(
      policy({}, 'simulate', '--candidate', candidate, '--kafka', kafka!.brokers, '--json'),
    );
    const file = loadFileDocument(
      readRuntimeEnv({ STEPGATE_CONFIG: resolve(ROOT, 'config/stepgate.yaml') }),
      riskSectionSchema,
    );
    const version = (n: number, medium: number, createdAt: string) => {
      const document = {
        ...file.document,
        risk: { ...file.document.risk, thresholds: { medium, high: 98, critical: 99 } },
      };
      return JSON.stringify({
        lineage: '0123456789abcdef',
        version: n,
        hash: documentHash(document),
        document,
        author: n === 2 ? 'alice' : 'file:stepgate.yaml',
        source: n === 2 ? 'api' : 'file',
        restores: null,
        comment: null,
        createdAt,
      });
    };
    await producer!.send({
      topic: TOPICS.policyVersion,
      acks: -1,
      messages: [
        { key: 'policy', value: version(1, 30, '2026-11-01T00:00:00.000Z') },
        { key: 'policy', value: version(2, 97, '2026-11-02T00:00:00.000Z') },
        { key: 'policy', value: 'not a version' },
      ],
    });
    const run = policy({}, 'simulate', '--candidate', candidate, '--kafka', kafka!.brokers);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(
      /^policy in force: version 2 \(by alice, 2026-11-02T00:00:00\.000Z; the newest on stepgate\.policy\.v1\)$/m,
    );
    const after = json(policy({}, 'simulate', '--candidate', candidate, '--kafka', kafka!.brokers, '--json'));
    expect(after.policies.inForce).not.toBe(before.policies.inForce);
    // Medium from 97: nothing the file's policy stepped up for its level is stepped up for it any more.
    expect(after.inForce.step_up).toBeLessThan(before.inForce.step_up);
  });
});
