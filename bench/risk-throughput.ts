// Risk throughput: access events applied per second through the access message controller (validation
// aside: the handler the Kafka consumer calls), one at a time as the consumer runs them, on SQLite and on
// PostgreSQL; and the latency of a synchronous assessment (the gateway's request/reply) on the learned profiles.
// Each run starts from an empty database. Writes bench/results/risk-throughput.json.
//   node dist/bench/risk-throughput.js [--runs 5] [--events 2000] [--out FILE]
// PostgreSQL runs when BENCH_DATABASE_URL (or TEST_DATABASE_URL) names a server; a throwaway database whose
// name contains "bench" is created and dropped per run.
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NestFactory } from '@nestjs/core';
import { readRuntimeEnv } from '@stepgate/config';
import type { AccessEvent } from '@stepgate/contracts';
import { Client } from 'pg';
import { AssessmentService } from '../apps/risk/src/assessments/assessment.service';
import { loadRiskConfig } from '../apps/risk/src/config';
import { AccessMessageController } from '../apps/risk/src/events/access.message.controller';
import { RiskModule } from '../apps/risk/src/risk.module';

const SUBJECTS = 200;
const WARMUP = 200;
const ASSESSMENTS = 500;
const UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const IPS = ['81.2.69.142', '81.2.69.160', '90.196.1.1', '8.8.8.8', '2.125.160.216'];

interface RunResult {
  eventsPerSecond: number;
  assessP50Ms: number;
  assessP99Ms: number;
}

function event(i: number): AccessEvent {
  const subject = `bench-${i % SUBJECTS}`;
  return {
    eventId: randomUUID(),
    time: new Date(Date.parse('2025-06-01T00:00:00Z') + i * 1000).toISOString(),
    correlationId: randomUUID(),
    subject,
    sessionId: null,
    deviceId: `${subject}-d${i % 2}`,
    clientIp: IPS[(i >> 3) % IPS.length]!,
    userAgent: UA,
    method: 'GET',
    host: 'bench',
    path: '/api/payments/1',
    route: 'payments',
    decision: i % 10 === 0 ? 'step_up' : 'allow',
    reason: 'bench',
    status: 200,
    riskScore: 0,
    riskLevel: 'low',
    acr: null,
  };
}

async function oneRun(events: number, databaseUrl: string | undefined): Promise<RunResult> {
  const dataDir = mkdtempSync(resolve(tmpdir(), 'stepgate-risk-bench-'));
  const runtime = readRuntimeEnv({
    STEPGATE_CONFIG: process.env.STEPGATE_CONFIG,
    STEPGATE_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    STEPGATE_RISK_PORT: '0',
    STEPGATE_INSTANCE_ID: 'risk-bench',
  });
  const config = { ...loadRiskConfig(runtime), reload: { watch: false, debounceMs: 0 } };
  const app = await NestFactory.createApplicationContext(RiskModule.forRoot(config, runtime), {
    logger: ['error', 'warn'],
    abortOnError: false,
  });
  try {
    const controller = app.get(AccessMessageController);
    for (let i = 0; i < WARMUP; i++) await controller.onAccess(event(i));
    const started = performance.now();
    for (let i = WARMUP; i < WARMUP + events; i++) await controller.onAccess(event(i));
    const seconds = (performance.now() - started) / 1000;

    const assessments = app.get(AssessmentService);
    const latencies: number[] = [];
    for (let i = 0; i < ASSESSMENTS; i++) {
      const e = event(i);
      const t = performance.now();
      await assessments.assess({
        correlationId: randomUUID(),
        subject: e.subject!,
        deviceId: e.deviceId,
        clientIp: e.clientIp,
        userAgent: e.userAgent,
        route: e.route,
      });
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    return {
      eventsPerSecond: Math.round(events / seconds),
      assessP50Ms: round2(latencies[Math.floor(latencies.length * 0.5)]!),
      assessP99Ms: round2(latencies[Math.floor(latencies.length * 0.99)]!),
    };
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function withThrowawayPostgres<T>(serverUrl: string, work: (url: string) => Promise<T>): Promise<T> {
  const name = `stepgate_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    const drop = new Client({ connectionString: serverUrl });
    await drop.connect();
    await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await drop.end();
  }
}

function summary(runs: RunResult[]) {
  const stat = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
  };
  return {
    events_per_second: stat(runs.map((r) => r.eventsPerSecond)),
    assess_p50_ms: stat(runs.map((r) => r.assessP50Ms)),
    assess_p99_ms: stat(runs.map((r) => r.assessP99Ms)),
    runs,
  };
}

export async function main(args: string[]): Promise<void> {
  const flag = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
  };
  const runs = Number(flag('--runs', '5'));
  const events = Number(flag('--events', '2000'));
  const out = resolve(flag('--out', 'bench/results/risk-throughput.json'));
  const pgServer = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;

  const results: Record<string, ReturnType<typeof summary>> = {};
  const backends: [string, () => Promise<RunResult>][] = [['sqlite', () => oneRun(events, undefined)]];
  if (pgServer) {
    backends.push(['postgres', () => withThrowawayPostgres(pgServer, (url) => oneRun(events, url))]);
  }
  for (const [name, run] of backends) {
    const all: RunResult[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await run();
      console.error(
        `${name} run ${i + 1}/${runs}: ${r.eventsPerSecond} events/s, assess p50 ${r.assessP50Ms} ms`,
      );
      all.push(r);
    }
    results[name] = summary(all);
  }
  const report = {
    what:
      'access events applied per second through AccessMessageController.onAccess, sequentially (as the ' +
      'consumer runs them), each in its own transaction with its inbox entry; then the latency of synchronous ' +
      'assessments (AssessmentService.assess) on the learned profiles',
    events_per_run: events,
    warmup_events: WARMUP,
    subjects: SUBJECTS,
    assessments_per_run: ASSESSMENTS,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    postgres: pgServer ? 'local server, throwaway database per run' : 'not run (no BENCH_DATABASE_URL)',
    results,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report.results, (k, v: unknown) => (k === 'runs' ? undefined : v), 2));
  console.error(`wrote ${out}`);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
