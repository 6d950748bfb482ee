// `npm run bench -- backtest [--runs 5] [--events 1000000] [--seed-events 20000] [--out FILE]`: how long a
// backtest (POST /admin/policy/simulate, npm run policy -- simulate) takes over a million recorded access
// decisions. Seeding, not measured: `--seed-events` access events go through the risk service itself
// (AssessmentService.onAccessBatch: real signals, details and units, as production records them), then the
// recorded rows are copied in SQL under new subjects and later times up to `--events` rows. Measured: the
// whole simulate (pages read, JSON parsed, both sides re-weighed, report built) with a candidate that changes
// a threshold, a weight, a feature weight, adds a bad-IP range and monitors a signal. Variants: sqlite, and
// postgres when BENCH_DATABASE_URL or TEST_DATABASE_URL names a server (a throwaway database per bench run),
// interleaved run by run. Medians with min-max; writes bench/results/backtest.json.
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import type { AccessEvent } from '@stepgate/contracts';
import { MAX_BATCH } from '@stepgate/kafka';
import { loadRouteViews } from '@stepgate/policy';
import { DataSource } from 'typeorm';
import { AssessmentService } from '../apps/risk/src/assessments/assessment.service';
import type { BacktestReport } from '../apps/risk/src/backtest/backtest.engine';
import { simulate } from '../apps/risk/src/backtest/simulation';
import { loadRiskConfig } from '../apps/risk/src/config';
import { riskDataSourceOptions } from '../apps/risk/src/database/risk.data-source';
import { RiskModule } from '../apps/risk/src/risk.module';
import { round2, stat, throwawayPostgres } from './support';

const SUBJECTS = 2000;
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
];
const HOME_IPS = ['81.2.69.142', '81.2.69.160', '90.196.1.1', '2.125.160.216', '89.160.20.112'];
const AWAY_IPS = ['8.8.8.8', '1.1.1.1', '185.220.101.4', '45.83.64.1'];
const ROUTES = ['payments', 'reports', 'reports', 'admin'];

/** The candidate every run simulates. */
const CANDIDATE = {
  risk: {
    thresholds: { medium: 25 },
    weights: { unconfirmedDevice: 35 },
    model: { features: { city: 1 } },
    lists: { badIps: ['185.220.101.0/24', '45.83.64.0/22'] },
    monitor: ['velocity_ips'],
  },
  policy: { routes: [{ id: 'reports', decisions: { high: 'step_up' } }] },
};

/** Mostly a subject at home on one of its devices; sometimes away, a new device, or a step-up. */
function accessEvent(i: number, run: string): AccessEvent {
  const s = i % SUBJECTS;
  const subject = `bench-${s}`;
  const r = (i * 2654435761) >>> 0;
  const away = r % 23 === 0;
  const newDevice = r % 37 === 0;
  return {
    eventId: `${run}-${i}`,
    time: new Date(Date.parse('2026-06-01T00:00:00Z') + i * 50).toISOString(),
    correlationId: randomUUID(),
    subject,
    sessionId: null,
    deviceId: newDevice ? `${subject}-n${i}` : `${subject}-d${(i >> 4) % 2}`,
    deviceSource: 'cookie',
    // Home is one network per subject (two addresses in it); away is another country.
    clientIp: away
      ? AWAY_IPS[r % AWAY_IPS.length]!
      : HOME_IPS[s % HOME_IPS.length]!.replace(/\d+$/, (n) => String((Number(n) + (r % 2)) % 250)),
    userAgent: UAS[(s + (newDevice ? 1 : 0)) % UAS.length]!,
    method: 'GET',
    host: 'bench',
    path: '/api/x',
    route: ROUTES[r % ROUTES.length]!,
    decision: away || newDevice ? 'step_up' : 'allow',
    reason: 'bench',
    status: 200,
    riskScore: 0,
    riskLevel: 'low',
    acr: null,
    policyVersion: null,
    monitored: false,
    steppedUp: false,
  };
}

function runtimeFor(dataDir: string, databaseUrl: string | undefined): RuntimeEnv {
  return readRuntimeEnv({
    STEPGATE_CONFIG: process.env.STEPGATE_CONFIG,
    STEPGATE_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    STEPGATE_RISK_PORT: '0',
    STEPGATE_INSTANCE_ID: 'backtest-bench',
    LOG_LEVEL: 'error',
  });
}

/** Records `seedEvents` accesses through the service, then copies the rows up to `events`. */
async function seed(runtime: RuntimeEnv, seedEvents: number, events: number): Promise<number> {
  // The shipped policy as it is (retention included: SUBJECTS subjects keep all their seeded assessments),
  // so the rows are recorded under the policy in force, as in production between two policy changes.
  const config = { ...loadRiskConfig(runtime), reload: { watch: false, debounceMs: 0 } };
  const app = await NestFactory.createApplicationContext(RiskModule.forRoot(config, runtime), {
    logger: ['error'],
    abortOnError: false,
  });
  try {
    const service = app.get(AssessmentService);
    const run = randomBytes(4).toString('hex');
    for (let i = 0; i < seedEvents; i += MAX_BATCH) {
      const batch = Array.from({ length: Math.min(MAX_BATCH, seedEvents - i) }, (_, k) =>
        accessEvent(i + k, run),
      );
      await service.onAccessBatch(batch);
    }
  } finally {
    await app.close();
  }
  const db = new DataSource({ ...riskDataSourceOptions(runtime), migrationsRun: false, logging: ['error'] });
  await db.initialize();
  try {
    const columns = `subject, device_id, time, source, correlation_id, causation_id, client_ip, score, level,
      device_status, model_version, signals, route, decision`;
    for (let copy = 1; ; copy++) {
      const [{ n }] = await db.query<[{ n: string | number }]>(
        `SELECT COUNT(*) AS n FROM risk_assessments WHERE source = 'access'`,
      );
      const have = Number(n);
      if (have >= events) {
        // As autovacuum would have by then on a database that grew to this size.
        if (db.options.type === 'postgres') await db.query('ANALYZE risk_assessments');
        return have;
      }
      const take = Math.min(seedEvents, events - have);
      // A copy under new subjects and later times; assessment ids stay unique.
      await db.query(
        `INSERT INTO risk_assessments (assessment_id, ${columns})
         SELECT assessment_id || '-c${copy}', subject || '-c${copy}', device_id, time + ${copy * 86_400_000},
           source, correlation_id, causation_id, client_ip, score, level, device_status, model_version, signals,
           route, decision
         FROM risk_assessments WHERE source = 'access' AND assessment_id NOT LIKE '%-c%'
         ORDER BY seq LIMIT ${take}`,
      );
    }
  } finally {
    await db.destroy();
  }
}

async function countRows(runtime: RuntimeEnv): Promise<number> {
  const db = new DataSource({ ...riskDataSourceOptions(runtime), migrationsRun: false, logging: ['error'] });
  await db.initialize();
  try {
    const [{ n }] = await db.query<[{ n: string | number }]>(
      `SELECT COUNT(*) AS n FROM risk_assessments WHERE source = 'access'`,
    );
    return Number(n);
  } finally {
    await db.destroy();
  }
}

async function measure(runtime: RuntimeEnv): Promise<{ seconds: number; report: BacktestReport }> {
  const inForce = { config: loadRiskConfig(runtime), routes: loadRouteViews(runtime) };
  const db = new DataSource({ ...riskDataSourceOptions(runtime), migrationsRun: false, logging: ['error'] });
  await db.initialize();
  try {
    const started = performance.now();
    const report = await simulate(db.manager, inForce, { candidate: CANDIDATE });
    return { seconds: (performance.now() - started) / 1000, report };
  } finally {
    await db.destroy();
  }
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      events: { type: 'string', default: '1000000' },
      'seed-events': { type: 'string', default: '20000' },
      out: { type: 'string', default: 'bench/results/backtest.json' },
      only: { type: 'string' },
      /** Keep the SQLite database in DIR and reuse it when it is there (profiling); sqlite only. */
      reuse: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const events = Number(values.events);
  const seedEvents = Math.min(Number(values['seed-events']), events);
  const pgServer = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  const cleanups: (() => Promise<void> | void)[] = [];
  const variants: { name: string; runtime: RuntimeEnv; rows: number; seedSeconds: number }[] = [];
  try {
    const targets: [string, string | undefined][] = [['sqlite', undefined]];
    if (pgServer) targets.push(['postgres', pgServer]);
    for (const [name, server] of targets) {
      if (values.only && !new RegExp(values.only).test(name)) continue;
      if (values.reuse && server) continue;
      const dataDir = values.reuse
        ? resolve(values.reuse)
        : mkdtempSync(resolve(tmpdir(), 'stepgate-backtest-bench-'));
      if (!values.reuse) cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      let url: string | undefined;
      if (server) {
        const pg = await throwawayPostgres(server);
        cleanups.push(() => pg.drop());
        url = pg.url;
      }
      const runtime = runtimeFor(dataDir, url);
      const started = performance.now();
      const reusable = values.reuse !== undefined && existsSync(resolve(dataDir, 'risk.sqlite'));
      const rows = reusable ? await countRows(runtime) : await seed(runtime, seedEvents, events);
      const seedSeconds = round2((performance.now() - started) / 1000);
      console.error(`${name}: seeded ${rows} recorded accesses in ${seedSeconds} s (not measured)`);
      variants.push({ name, runtime, rows, seedSeconds });
    }

    const samples: { variant: string; run: number; seconds: number; events_per_second: number }[] = [];
    let reports: Record<string, BacktestReport> = {};
    for (let run = 1; run <= runs; run++) {
      for (const v of variants) {
        const { seconds, report } = await measure(v.runtime);
        const s = {
          variant: v.name,
          run,
          seconds: round2(seconds),
          events_per_second: Math.round(v.rows / seconds),
        };
        console.error(`run ${run}/${runs} ${v.name}: ${s.seconds} s, ${s.events_per_second} events/s`);
        samples.push(s);
        reports = { ...reports, [v.name]: report };
      }
    }
    const results = Object.fromEntries(
      variants.map((v) => {
        const mine = samples.filter((s) => s.variant === v.name);
        const r = reports[v.name]!;
        return [
          v.name,
          {
            events: v.rows,
            seconds: stat(mine.map((s) => s.seconds)),
            events_per_second: stat(mine.map((s) => s.events_per_second)),
            seed_seconds: v.seedSeconds,
            report_summary: {
              considered: r.events.considered,
              inForce: r.inForce,
              candidate: r.candidate,
              changed: r.changed,
              subjects: {
                newlyChallenged: r.subjects.newlyChallenged.count,
                released: r.subjects.released.count,
              },
              warnings: r.warnings,
            },
          },
        ];
      }),
    );
    const report = {
      what:
        'wall time of one backtest (simulate: pages of recorded access assessments read from the database, ' +
        'signals JSON parsed, both sides re-weighed, report built) over every recorded access; seeding not measured',
      target: 'a million recorded events in under 30 s on a 2-core machine',
      candidate: CANDIDATE,
      seed: {
        through_the_service: seedEvents,
        copied_in_sql: events - seedEvents,
        subjects_per_copy: SUBJECTS,
      },
      rounds: runs,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
      postgres: pgServer
        ? 'local server, throwaway database per bench run'
        : 'not run (no BENCH_DATABASE_URL)',
      results,
      samples,
    };
    const out = resolve(values.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(
      JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.seconds])), null, 2),
    );
    console.error(`wrote ${out}`);
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}
