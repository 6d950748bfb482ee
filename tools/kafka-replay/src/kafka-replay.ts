// Backtesting from the Kafka topics instead of risk's database: the access events and challenge outcomes are
// read from the beginning up to the end offsets they had when the read started, put in event-time order, and
// fed through risk's own AssessmentService into a throwaway SQLite database under the policy in force. A
// backtest then reads that database as it reads risk's own. The topics keep what risk's database trims
// (`retention.assessmentsPerSubject`), for as long as the topics' retention keeps it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import {
  describeIssues,
  EVENT_CONTRACTS,
  isNewer,
  TOPICS,
  type AccessEvent,
  type ChallengeOutcome,
  type PolicyVersion,
} from '@stepgate/contracts';
import { MAX_BATCH, skipEmptyRequestQueueChecks } from '@stepgate/kafka';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { DataSource, EntityManager } from 'typeorm';
import { AssessmentService } from '../../../apps/risk/src/assessments/assessment.service';
import { riskSectionSchema, type RiskConfig } from '../../../apps/risk/src/config';
import { RISK_DB } from '../../../apps/risk/src/database/risk.data-source';
import { RiskModule } from '../../../apps/risk/src/risk.module';
import { versionOf } from '../../../apps/risk/src/backtest/simulation';

export const REPLAYED_TOPICS = [TOPICS.access, TOPICS.challengeOutcome] as const;
type ReplayedTopic = (typeof REPLAYED_TOPICS)[number];

export interface TopicHistory {
  accesses: AccessEvent[];
  outcomes: ChallengeOutcome[];
  /** Values that are not their topic's contract (not JSON, a tombstone, a wrong shape): skipped. */
  invalid: { topic: ReplayedTopic; count: number; first: string }[];
}

export interface ReadOptions {
  brokers: string[];
  /** Fetch wait; low against librdkafka's mock cluster, which does not wake a waiting fetch early. */
  maxWaitMs?: number;
  /** Gives up when no message arrived for this long while partitions remain unread (default 30 s). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Reads both topics from their beginning up to their high watermarks at the start, in a consumer group of
 * its own that commits nothing (the broker forgets it). Messages produced meanwhile are left out, so the read
 * ends. Holds the events in memory, parsed (a 539-byte access event takes about 570 bytes of heap).
 */
export async function readTopicHistory(options: ReadOptions): Promise<TopicHistory> {
  const kafka = clientOf(options);
  const ends = await endOffsets(kafka, REPLAYED_TOPICS);
  const history: TopicHistory = { accesses: [], outcomes: [], invalid: [] };
  if (ends.size === 0) return history;
  const topics = [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))];
  const consumer = kafka.consumer({
    groupId: `stepgate-policy-backtest-${randomUUID()}`,
    maxWaitTimeInMs: options.maxWaitMs ?? 100,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumeUntil(consumer, ends, options, (topic, partition, offset, value) => {
      const taken = take(topic as ReplayedTopic, value);
      if (taken.ok) {
        if (taken.topic === TOPICS.access) history.accesses.push(taken.value);
        else history.outcomes.push(taken.value);
        return;
      }
      const seen = history.invalid.find((i) => i.topic === topic);
      if (seen) seen.count++;
      else
        history.invalid.push({
          topic: topic as ReplayedTopic,
          count: 1,
          first: `partition ${partition} offset ${offset}: ${clip(taken.reason, 200)}`,
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return history;
}

const clientOf = (options: ReadOptions) => {
  skipEmptyRequestQueueChecks();
  return new Kafka({
    clientId: 'stepgate-policy-backtest',
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 5 },
  });
};

/**
 * The newest policy version on the compacted policy topic, what every gateway and risk instance runs: for a
 * backtest with no risk database to read the versions from. Null when nothing valid was ever published.
 */
export async function readNewestPolicy(options: ReadOptions): Promise<PolicyVersion | null> {
  const kafka = clientOf(options);
  const ends = await endOffsets(kafka, [TOPICS.policyVersion]);
  if (ends.size === 0) return null;
  const consumer = kafka.consumer({
    groupId: `stepgate-policy-backtest-${randomUUID()}`,
    maxWaitTimeInMs: options.maxWaitMs ?? 100,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  let newest: PolicyVersion | null = null;
  try {
    await consumer.subscribe({ topics: [TOPICS.policyVersion], fromBeginning: true });
    await consumeUntil(consumer, ends, options, (_topic, _partition, _offset, raw) => {
      let value: unknown;
      try {
        value = JSON.parse(raw?.toString('utf8') ?? '');
      } catch {
        return;
      }
      const parsed = EVENT_CONTRACTS[TOPICS.policyVersion].schema.safeParse(value);
      if (parsed.success && isNewer(parsed.data, newest)) newest = parsed.data;
    });
  } finally {
    await consumer.disconnect();
  }
  return newest;
}

const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 3)}...` : text);

/** `topic:partition` -> high watermark, for the partitions that hold something. */
async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<Map<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map<string, number>();
    for (const topic of topics) {
      let offsets;
      try {
        offsets = await admin.fetchTopicOffsets(topic);
      } catch (err) {
        // A topic nothing was ever published to: nothing to replay from it.
        if ((err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') continue;
        throw err;
      }
      for (const p of offsets) {
        if (Number(p.high) > Number(p.low)) ends.set(`${topic}:${p.partition}`, Number(p.high));
      }
    }
    return ends;
  } finally {
    await admin.disconnect();
  }
}

type OnMessage = (topic: string, partition: number, offset: string, value: Buffer | null) => void;

/**
 * Runs the consumer until every partition in `ends` was read up to its end offset. Returns only once `run`
 * has settled too: a consumer disconnected while `run` was still joining its group kept its connections
 * open (and the process alive) after an interrupt.
 */
async function consumeUntil(
  consumer: Consumer,
  ends: Map<string, number>,
  options: ReadOptions,
  onMessage: OnMessage,
): Promise<void> {
  const remaining = new Set(ends.keys());
  const idleMs = options.idleTimeoutMs ?? 30_000;
  let running: Promise<void> = Promise.resolve();
  const read = new Promise<void>((resolve, reject) => {
    let idle: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      options.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          finish(
            new Error(
              `no messages for ${idleMs / 1000} s with ${[...remaining].join(', ')} not read to the end`,
            ),
          ),
        idleMs,
      );
    };
    const onAbort = () => finish(options.signal!.reason as Error);
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) finish(payload.error);
    });
    arm();
    running = consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}:${batch.partition}`;
        const end = ends.get(key)!;
        if (done || !remaining.has(key)) return;
        arm();
        for (const m of batch.messages) {
          if (Number(m.offset) >= end) break;
          onMessage(batch.topic, batch.partition, m.offset, m.value);
        }
        // lastOffset counts what the fetch skipped too (transaction markers), so the end is always reached.
        if (Number(batch.lastOffset()) + 1 >= end) {
          remaining.delete(key);
          if (remaining.size === 0) finish();
        }
      },
    });
    running.catch((err: Error) => finish(err));
  });
  try {
    await read;
  } finally {
    await running.catch(() => undefined);
  }
}

type Taken =
  | { ok: true; topic: typeof TOPICS.access; value: AccessEvent }
  | { ok: true; topic: typeof TOPICS.challengeOutcome; value: ChallengeOutcome }
  | { ok: false; reason: string };

/** A value validated against its topic's contract, as risk's consumers validate it. */
function take(topic: ReplayedTopic, raw: Buffer | null): Taken {
  if (raw === null) return { ok: false, reason: 'no value (a tombstone)' };
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return { ok: false, reason: `not JSON (${raw.toString('utf8').slice(0, 80)})` };
  }
  if (topic === TOPICS.access) {
    const parsed = EVENT_CONTRACTS[TOPICS.access].schema.safeParse(value);
    return parsed.success
      ? { ok: true, topic, value: parsed.data }
      : { ok: false, reason: describeIssues(parsed.error) };
  }
  const parsed = EVENT_CONTRACTS[TOPICS.challengeOutcome].schema.safeParse(value);
  return parsed.success
    ? { ok: true, topic, value: parsed.data }
    : { ok: false, reason: describeIssues(parsed.error) };
}

export type ReplayStep =
  { kind: 'accesses'; events: AccessEvent[] } | { kind: 'outcome'; outcome: ChallengeOutcome };

export interface ReplayPlan {
  steps: ReplayStep[];
  accesses: number;
  outcomes: number;
  /** The most accesses fed for one subject (above the retention maximum its oldest would be trimmed). */
  mostPerSubject: number;
}

/**
 * What to feed, in event-time order: accesses in chunks of at most `chunk` (what the consumer hands over per
 * fetch), and each challenge outcome after its subject's accesses before it and before those after it. An
 * outcome changes only its own subject's profile (its challenge results, its devices), so a chunk is cut at
 * an outcome only when it holds an access of that subject; otherwise the outcome is applied ahead of the
 * chunk's other subjects (cutting at every outcome made chunks of a few dozen on a stream with a step-up in
 * 37 accesses). At equal times the outcome goes first (an access at the instant a challenge completed was
 * most likely its retry). Only events before `to` (epoch ms, exclusive) are fed: nothing later changes what
 * came before; everything earlier is history the profiles learn from, whatever the backtest's `from`.
 */
export function replayPlan(
  history: Pick<TopicHistory, 'accesses' | 'outcomes'>,
  options: { to?: number; chunk?: number } = {},
): ReplayPlan {
  const chunk = options.chunk ?? MAX_BATCH;
  const before = <T extends { time: string }>(xs: readonly T[]) =>
    xs
      .map((value) => ({ value, time: Date.parse(value.time) }))
      .filter((x) => options.to === undefined || x.time < options.to)
      // Stable: events of equal time keep the order they were read in (a partition's order).
      .sort((a, b) => a.time - b.time);
  const accesses = before(history.accesses);
  const outcomes = before(history.outcomes);
  const steps: ReplayStep[] = [];
  const perSubject = new Map<string, number>();
  let pending: AccessEvent[] = [];
  let pendingSubjects = new Set<string | null>();
  const flush = () => {
    if (pending.length > 0) steps.push({ kind: 'accesses', events: pending });
    pending = [];
    pendingSubjects = new Set();
  };
  const outcome = (o: ChallengeOutcome) => {
    if (pendingSubjects.has(o.subject)) flush();
    steps.push({ kind: 'outcome', outcome: o });
  };
  let o = 0;
  for (const a of accesses) {
    while (o < outcomes.length && outcomes[o]!.time <= a.time) outcome(outcomes[o++]!.value);
    pending.push(a.value);
    pendingSubjects.add(a.value.subject);
    if (a.value.subject !== null) perSubject.set(a.value.subject, (perSubject.get(a.value.subject) ?? 0) + 1);
    if (pending.length >= chunk) flush();
  }
  for (; o < outcomes.length; o++) outcome(outcomes[o]!.value);
  flush();
  return {
    steps,
    accesses: accesses.length,
    outcomes: outcomes.length,
    mostPerSubject: [...perSubject.values()].reduce((m, n) => Math.max(m, n), 0),
  };
}

type Feedable = Pick<AssessmentService, 'onAccessBatch' | 'onChallengeOutcome'>;

/**
 * Feeds the plan through the service, then stamps each assessment with its event's time. Risk records an
 * assessment at the instant it wrote it (`time` is the wall clock: close to the event's time for a consumer
 * keeping up, meaningless for a replay), and a backtest's window is on that time. `modelVersion` replaces
 * the one the rebuild recorded under (its retention raised, see `rebuildConfig`), which scores the same.
 */
export async function feedReplay(
  plan: ReplayPlan,
  service: Feedable,
  em: EntityManager,
  options: { modelVersion: string; signal?: AbortSignal },
): Promise<void> {
  for (const step of plan.steps) {
    options.signal?.throwIfAborted();
    if (step.kind === 'accesses') {
      await service.onAccessBatch(step.events);
      continue;
    }
    const [{ seq }] = await em.query<[{ seq: number }]>(
      'SELECT COALESCE(MAX(seq), 0) AS seq FROM risk_assessments',
    );
    await service.onChallengeOutcome(step.outcome);
    await em.query(`UPDATE risk_assessments SET time = ? WHERE seq > ? AND source = 'challenge_outcome'`, [
      Date.parse(step.outcome.time),
      seq,
    ]);
  }
  await em.transaction(async (tx) => {
    await tx.query('CREATE TEMP TABLE replay_times (event_id TEXT PRIMARY KEY, time INTEGER NOT NULL)');
    const times = plan.steps.flatMap((s) =>
      s.kind === 'accesses' ? s.events.map((e) => [e.eventId, Date.parse(e.time)]) : [],
    );
    for (let i = 0; i < times.length; i += 500) {
      const rows = times.slice(i, i + 500);
      // The first of a redelivered event id, as the inbox applied the first.
      await tx.query(
        `INSERT OR IGNORE INTO replay_times (event_id, time) VALUES ${rows.map(() => '(?, ?)').join(', ')}`,
        rows.flat(),
      );
    }
    await tx.query(
      `UPDATE risk_assessments SET time = (
         SELECT r.time FROM replay_times r WHERE r.event_id = risk_assessments.causation_id)
       WHERE source = 'access'`,
    );
    await tx.query('UPDATE risk_assessments SET model_version = ?', [options.modelVersion]);
    await tx.query('DROP TABLE replay_times');
  });
}

const retentionSchema = riskSectionSchema.shape.retention.unwrap().shape;

/**
 * The policy in force with nothing the replay records trimmed: every assessment kept (up to the schema's
 * maximum per subject) and challenge results kept for the schema's maximum of days (retention sweeps by the
 * wall clock, which a replay of old events would be far ahead of). Neither changes a score. No file watch.
 */
export function rebuildConfig(inForce: RiskConfig): RiskConfig {
  return {
    ...inForce,
    retention: {
      ...inForce.retention,
      assessmentsPerSubject: retentionSchema.assessmentsPerSubject.unwrap().maxValue!,
      challengeDays: retentionSchema.challengeDays.unwrap().maxValue!,
    },
    reload: { watch: false, debounceMs: 0 },
  };
}

export const RETAINED_PER_SUBJECT = retentionSchema.assessmentsPerSubject.unwrap().maxValue!;

/** tmpfs when there is one and TMPDIR is the default: the database is thrown away (set TMPDIR for disk). */
function scratchBase(): string {
  const base = tmpdir();
  return base === '/tmp' && existsSync('/dev/shm') ? '/dev/shm' : base;
}

export interface RebuildOptions {
  /** The policy the history is replayed under: the policy in force. */
  config: RiskConfig;
  /** The caller's: the config file and its environment. Its Kafka and database are not used. */
  runtime: Pick<RuntimeEnv, 'configFile' | 'env'>;
  signal?: AbortSignal;
}

/**
 * Rebuilds a throwaway risk database from the plan and hands it to `use`; the database is removed afterwards,
 * however `use` ends. The risk context runs on the in-process bus: nothing is published to Kafka.
 */
export async function withRebuiltDatabase<T>(
  plan: ReplayPlan,
  options: RebuildOptions,
  use: (em: EntityManager) => Promise<T>,
): Promise<T> {
  const scratch = mkdtempSync(join(scratchBase(), 'stepgate-backtest-'));
  try {
    const runtime = readRuntimeEnv({
      ...options.runtime.env,
      STEPGATE_CONFIG: options.runtime.configFile,
      STEPGATE_DATA_DIR: scratch,
      KAFKA_BROKERS: '',
      DATABASE_URL: '',
      STEPGATE_INSTANCE_ID: 'policy-backtest',
    });
    const app = await NestFactory.createApplicationContext(
      RiskModule.forRoot(rebuildConfig(options.config), runtime),
      { logger: ['error'], abortOnError: false },
    );
    try {
      const db = app.get<DataSource>(getDataSourceToken(RISK_DB));
      await feedReplay(plan, app.get(AssessmentService), db.manager, {
        modelVersion: versionOf(options.config),
        signal: options.signal,
      });
      return await use(db.manager);
    } finally {
      await app.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** What the report must say about a backtest over a rebuilt history. */
export function replayWarnings(history: TopicHistory, plan: ReplayPlan): string[] {
  const later =
    plan.accesses < history.accesses.length || plan.outcomes < history.outcomes.length
      ? ` (of ${history.accesses.length} and ${history.outcomes.length} read; the rest are not before --to)`
      : '';
  const warnings = [
    `history rebuilt from ${plan.accesses} access events and ${plan.outcomes} challenge outcomes on the ` +
      `Kafka topics${later}, replayed under the policy in force: the recorded scores are the ones it would ` +
      "have given, not the ones risk gave, and a subject's history from before the topics' retention is unknown",
  ];
  for (const i of history.invalid) {
    warnings.push(
      `${i.count} value${i.count === 1 ? '' : 's'} on ${i.topic} did not match the contract and ` +
        `${i.count === 1 ? 'was' : 'were'} skipped (first: ${i.first})`,
    );
  }
  if (plan.mostPerSubject > RETAINED_PER_SUBJECT) {
    warnings.push(
      `a subject has ${plan.mostPerSubject} accesses, more than the ${RETAINED_PER_SUBJECT} the rebuilt ` +
        'database keeps per subject: the oldest of such subjects may be missing from the backtest',
    );
  }
  return warnings;
}
