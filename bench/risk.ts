// `npm run bench -- risk [--runs 5] [--events 20000] [--out FILE]`: how many access events risk applies per
// second, and the latency of a synchronous assessment. Variants, interleaved round by round:
//   kafka-<db>:    end to end over the Kafka protocol (librdkafka's mock cluster through kcat, a fresh one per
//                  run): events produced to the access topic, the risk service (its own Nest app, as
//                  `npm run start:risk` runs it) consumes them in batches, updates profiles, persists the
//                  assessments and publishes them; timed from the first produce to the last assessment read back.
//   batch-<db>:    AssessmentService.onAccessBatch in chunks of MAX_BATCH, as the consumer hands them over.
//   single-<db>:   the same, one event per transaction (how risk consumed before batching), on fewer events.
// <db> is sqlite, and postgres when BENCH_DATABASE_URL or TEST_DATABASE_URL names a server (a throwaway
// database per run). Medians with min-max; writes bench/results/risk.json.
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import { TOPICS, type AccessEvent, type RiskAssessment } from '@stepgate/contracts';
import { MAX_BATCH } from '@stepgate/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { AssessmentService } from '../apps/risk/src/assessments/assessment.service';
import { loadRiskConfig } from '../apps/risk/src/config';
import { createRiskApp } from '../apps/risk/src/risk.bootstrap';
import { RiskModule } from '../apps/risk/src/risk.module';
import { startKafkaForTests } from '../test/support/kafka-mock';
import { round2, stat, withThrowawayPostgres } from './support';

const SUBJECTS = 2000;
const ASSESSMENTS = 1000;
const SINGLE_EVENTS = 1000;
/** The mock cluster keeps about 5 MiB per partition: the access and assessment topics must fit. */
const KAFKA_EVENTS = 8000;
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
];
const IPS = ['81.2.69.142', '81.2.69.160', '90.196.1.1', '8.8.8.8', '2.125.160.216', '89.160.20.112'];

interface Sample {
  variant: string;
  round: number;
  events: number;
  events_per_second: number;
  assess_p50_ms?: number;
  assess_p99_ms?: number;
}

/** A stream over SUBJECTS subjects, each with its own two devices, home IPs and browser; a tenth step-ups. */
function accessEvent(i: number, run: string): AccessEvent {
  const s = i % SUBJECTS;
  const subject = `bench-${s}`;
  const stepUp = i % 10 === 0;
  return {
    eventId: `${run}-${i}`,
    time: new Date(Date.parse('2026-06-01T00:00:00Z') + i * 50).toISOString(),
    correlationId: randomUUID(),
    subject,
    sessionId: null,
    deviceId: `${subject}-d${(i >> 4) % 2}`,
    deviceSource: 'header',
    clientIp: IPS[(s + (i >> 5)) % IPS.length]!,
    userAgent: UAS[s % UAS.length]!,
    method: 'GET',
    host: 'bench',
    // Allowed on reports, which allows up to high: risk learns every allowed access, as the bench measures.
    path: stepUp ? '/api/payments/1' : '/api/reports/1',
    route: stepUp ? 'payments' : 'reports',
    decision: stepUp ? 'step_up' : 'allow',
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

function runtimeFor(dataDir: string, databaseUrl: string | undefined, extra: Record<string, string> = {}) {
  return readRuntimeEnv({
    STEPGATE_CONFIG: process.env.STEPGATE_CONFIG,
    STEPGATE_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    STEPGATE_RISK_PORT: '0',
    STEPGATE_INSTANCE_ID: 'risk-bench',
    LOG_LEVEL: 'error',
    ...extra,
  });
}

function configFor(runtime: RuntimeEnv) {
  return { ...loadRiskConfig(runtime), reload: { watch: false, debounceMs: 0 } };
}

/** In one process, through the service the consumer calls: chunks of `batch` events per transaction. */
async function direct(
  variant: string,
  round: number,
  events: number,
  batch: number,
  databaseUrl: string | undefined,
): Promise<Sample> {
  const dataDir = mkdtempSync(resolve(tmpdir(), 'stepgate-risk-bench-'));
  const runtime = runtimeFor(dataDir, databaseUrl);
  const app = await NestFactory.createApplicationContext(RiskModule.forRoot(configFor(runtime), runtime), {
    logger: ['error'],
    abortOnError: false,
  });
  try {
    const service = app.get(AssessmentService);
    const run = randomBytes(4).toString('hex');
    const stream = Array.from({ length: events }, (_, i) => accessEvent(i, run));
    const started = performance.now();
    for (let i = 0; i < stream.length; i += batch) await service.onAccessBatch(stream.slice(i, i + batch));
    const seconds = (performance.now() - started) / 1000;
    const latencies: number[] = [];
    for (let i = 0; i < ASSESSMENTS; i++) {
      const e = accessEvent(i * 7, run);
      const t = performance.now();
      await service.assess({
        correlationId: randomUUID(),
        subject: e.subject!,
        deviceId: e.deviceId,
        deviceSource: e.deviceSource,
        clientIp: e.clientIp,
        userAgent: e.userAgent,
        route: e.route,
      });
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    return {
      variant,
      round,
      events,
      events_per_second: Math.round(events / seconds),
      assess_p50_ms: round2(latencies[Math.floor(latencies.length * 0.5)]!),
      assess_p99_ms: round2(latencies[Math.floor(latencies.length * 0.99)]!),
    };
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** End to end over the Kafka protocol, against a fresh mock cluster (no earlier run's events to replay). */
async function overKafka(
  variant: string,
  round: number,
  events: number,
  databaseUrl: string | undefined,
): Promise<Sample> {
  const kafka = await startKafkaForTests({});
  const dataDir = mkdtempSync(resolve(tmpdir(), 'stepgate-risk-bench-'));
  const run = randomBytes(4).toString('hex');
  const runtime = runtimeFor(dataDir, databaseUrl, {
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_IDEMPOTENT: 'false',
    KAFKA_MAX_WAIT_MS: '25',
    STEPGATE_KAFKA_GROUP_PREFIX: `bench-${run}`,
  });
  const client = new Kafka({
    clientId: 'risk-bench',
    brokers: kafka.brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const producer = client.producer({ allowAutoTopicCreation: true });
  const consumer = client.consumer({ groupId: `bench-reader-${run}`, maxWaitTimeInMs: 25 });
  const app = await createRiskApp(runtime, undefined, configFor(runtime));
  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.riskAssessment, fromBeginning: true });
    const seen = new Set<string>();
    let wanted = 'warmup';
    let resolveDone: () => void = () => undefined;
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const a = JSON.parse(m.value!.toString()) as RiskAssessment;
          if (a.subject?.startsWith('bench-')) seen.add(a.assessmentId);
        }
        if (wanted === 'warmup' ? seen.size > 0 : seen.size >= Number(wanted)) resolveDone();
      },
    });
    const waitFor = (what: string) =>
      new Promise<void>((done, fail) => {
        wanted = what;
        resolveDone = done;
        setTimeout(
          () => fail(new Error(`${variant}: only ${seen.size} assessments (want ${what})`)),
          120_000,
        );
      });
    // One event first: risk's consumer group has joined and both topics exist when its assessment is back.
    const warm = waitFor('warmup');
    await send(producer, [accessEvent(0, `warm-${run}`)]);
    await warm;
    seen.clear();
    const stream = Array.from({ length: events }, (_, i) => accessEvent(i + 1, run));
    const started = performance.now();
    const done = waitFor(String(events));
    for (let i = 0; i < stream.length; i += 500) await send(producer, stream.slice(i, i + 500));
    await done;
    const seconds = (performance.now() - started) / 1000;
    return { variant, round, events, events_per_second: Math.round(events / seconds) };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await app.close();
    await kafka.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function send(producer: ReturnType<Kafka['producer']>, events: AccessEvent[]): Promise<void> {
  await producer.send({
    topic: TOPICS.access,
    acks: -1,
    messages: events.map((e) => ({ key: e.subject, value: JSON.stringify(e) })),
  });
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      events: { type: 'string', default: '20000' },
      out: { type: 'string', default: 'bench/results/risk.json' },
      only: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const events = Number(values.events);
  const pgServer = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  const databases: [string, (work: (url: string | undefined) => Promise<Sample>) => Promise<Sample>][] = [
    ['sqlite', (work) => work(undefined)],
  ];
  if (pgServer) databases.push(['postgres', (work) => withThrowawayPostgres(pgServer, work)]);
  const all: [string, (round: number) => Promise<Sample>][] = databases.flatMap(([db, onDb]) => [
    [`kafka-${db}`, (r: number) => onDb((url) => overKafka(`kafka-${db}`, r, KAFKA_EVENTS, url))],
    [`batch-${db}`, (r: number) => onDb((url) => direct(`batch-${db}`, r, events, MAX_BATCH, url))],
    [`single-${db}`, (r: number) => onDb((url) => direct(`single-${db}`, r, SINGLE_EVENTS, 1, url))],
  ]);
  // --only REGEX: a subset of the variants (for profiling; the ratios need all of them).
  const variants = all.filter(([name]) => !values.only || new RegExp(values.only).test(name));

  const samples: Sample[] = [];
  for (let round = 1; round <= runs; round++) {
    for (const [name, measure] of variants) {
      const s = await measure(round);
      console.error(
        `round ${round}/${runs} ${name}: ${s.events_per_second} events/s` +
          (s.assess_p50_ms === undefined
            ? ''
            : `, assess p50 ${s.assess_p50_ms} ms p99 ${s.assess_p99_ms} ms`),
      );
      samples.push(s);
    }
  }
  const results = Object.fromEntries(
    variants.map(([name]) => {
      const mine = samples.filter((s) => s.variant === name);
      const latency = mine.filter((s) => s.assess_p50_ms !== undefined);
      return [
        name,
        {
          events_per_run: mine[0]!.events,
          events_per_second: stat(mine.map((s) => s.events_per_second)),
          ...(latency.length
            ? {
                assess_p50_ms: stat(latency.map((s) => s.assess_p50_ms!)),
                assess_p99_ms: stat(latency.map((s) => s.assess_p99_ms!)),
              }
            : {}),
        },
      ];
    }),
  );
  const median = (name: string) => results[name]?.events_per_second.median;
  const ratios = Object.fromEntries(
    databases.map(([db]) => [
      db,
      {
        batch_over_single: round2(median(`batch-${db}`)! / median(`single-${db}`)!),
        kafka_over_batch: round2(median(`kafka-${db}`)! / median(`batch-${db}`)!),
      },
    ]),
  );
  const report = {
    what:
      'access events applied per second by risk (scored, learned, assessment persisted and published); ' +
      'kafka-*: end to end over the Kafka protocol (mock cluster), batch-*/single-*: the service the consumer ' +
      `calls, ${MAX_BATCH} or 1 event(s) per transaction; assess_*: synchronous assessments on the learned profiles`,
    subjects: SUBJECTS,
    rounds: runs,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    postgres: pgServer ? 'local server, throwaway database per run' : 'not run (no BENCH_DATABASE_URL)',
    results,
    ratios,
    samples,
  };
  const out = resolve(values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify({ results, ratios }, null, 2));
  console.error(`wrote ${out}`);
}
