// Two risk processes in one consumer group over the Kafka protocol; one is SIGKILLed mid-stream. The survivor
// takes over its partitions (after the session timeout) and every event must have been applied exactly once:
// per subject, the learned history and the device's seen count equal the number of distinct events sent.
// Processing is per-message transactions (inbox entry + effects commit together) and the consumer commits an
// offset only after its handler returned, so what the dead process applied but had not committed is
// redelivered and ignored by the inbox.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '@stepgate/contracts';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectProfileView } from '../../apps/risk/src/admin/admin.service';
import { factories } from '../support/factories';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';
import { kafkaClient } from '../support/kafka-probe';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';
import { eventually, freePort, ROOT, startService, type Service } from '../support/processes';

const SUBJECTS = 100;
// ~10 events/s until both instances consume (a rebalance takes about 30 s on the mock), then 5 more per
// subject: a few thousand events at most, on a Kafka of the spec's own (no other spec replays them, and the
// instances here replay no other spec's).
const BATCH = 2;
const BATCH_EVERY_MS = 200;
// The mock keeps ~5 MiB per partition; ~600 bytes an event.
const MAX_EVENTS = 12_000;

/** Builds risk (and the libs) into a directory of its own, so the spec never touches the shared dist/. */
function buildRisk(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-risk-kill-build-'));
  for (const part of ['apps/risk', 'libs', 'config', '.swcrc'])
    cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [
      'node_modules/@swc/cli/bin/swc.js',
      'apps/risk',
      'libs',
      '-d',
      'dist',
      '--copy-files',
      '--ignore',
      '**/*.spec.ts',
      '--quiet',
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return dir;
}

async function applied(url: string): Promise<{ applied: number; duplicate: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const count = (outcome: string) =>
    Number(
      new RegExp(
        `stepgate_risk_messages_total\\{topic="${TOPICS.access.replaceAll('.', '\\.')}",outcome="${outcome}"[^}]*\\} (\\d+)`,
      ).exec(text)?.[1] ?? 0,
    );
  return { applied: count('applied'), duplicate: count('duplicate') };
}

// PostgreSQL when there is one (what several instances share in production), else SQLite: one backend.
const backend = databaseBackends().includes('postgres') ? 'postgres' : 'sqlite';

describe(`risk instances killed mid-stream on ${backend}`, () => {
  let build: string;
  let db: TestDatabase | undefined;
  let producer: Producer;
  let kafka: KafkaForTests | undefined;
  const services: Service[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-risk-kill-'));
  // The background stream, stopped when the test ends however it ends.
  let stopStream = () => {};
  let streamDone: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    build = buildRisk();
    if (backend === 'postgres') db = await createTestDatabase();
    kafka = await startOwnKafka();
    producer = kafkaClient(kafka.brokers).producer({ allowAutoTopicCreation: true });
    await producer.connect();
  });

  afterAll(async () => {
    stopStream();
    await streamDone.catch(() => undefined);
    for (const s of services) await s.stop('SIGKILL');
    await producer?.disconnect();
    await kafka?.stop();
    await db?.drop();
    if (build) rmSync(build, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('applies every event exactly once when one of two consumers dies', { timeout: 600_000 }, async () => {
    const group = `risk-kill-${randomUUID()}`;
    mkdirSync(dataDir, { recursive: true });
    const start = async (name: string) => {
      const port = await freePort();
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        LOG_FORMAT: 'json',
        STEPGATE_CONFIG: join(build, 'config/stepgate.yaml'),
        STEPGATE_RISK_PORT: String(port),
        STEPGATE_DATA_DIR: dataDir,
        STEPGATE_INSTANCE_ID: name,
        STEPGATE_KAFKA_GROUP_PREFIX: group,
        KAFKA_BROKERS: kafka!.brokers,
        KAFKA_MAX_WAIT_MS: '25',
        KAFKA_IDEMPOTENT: process.env.KAFKA_BROKERS ? 'true' : 'false',
        ...(db ? { DATABASE_URL: db.url } : {}),
      };
      const service = startService(name, [join(build, 'dist/apps/risk/src/main.js')], env);
      services.push(service);
      const url = `http://127.0.0.1:${port}`;
      // Up means answering: 503 (a crashed consumer, see below) is handled by the caller.
      await eventually(
        async () => {
          if (service.child.exitCode !== null) throw new Error(`${name} exited:\n${service.output()}`);
          return (await fetch(`${url}/healthz`).catch(() => undefined))?.status;
        },
        `${name} answering`,
        90_000,
      );
      return { service, url };
    };
    const run = randomUUID().slice(0, 8);
    const subjects = Array.from({ length: SUBJECTS }, (_, i) => `kill-${run}-${i}`);
    const sentTo = new Map<string, number>(subjects.map((subject) => [subject, 0]));
    // A steady stream in small batches, round-robin over subjects (each subject's events in order, one
    // partition each), in the background until told to stop.
    let stopAfter = Infinity;
    stopStream = () => (stopAfter = 0);
    let sent = 0;
    const started = Date.now();
    const streaming = (async () => {
      while (sent < stopAfter) {
        const batch = Array.from({ length: BATCH }, (_, j) => {
          const subject = subjects[(sent + j) % SUBJECTS]!;
          const k = sentTo.get(subject)!;
          sentTo.set(subject, k + 1);
          // Each passed a strong step-up, so risk learns every one whatever it scores: the history counts them.
          return factories.steppedUpAccess({
            subject,
            deviceId: 'd-1',
            clientIp: `81.2.69.${(k % 200) + 1}`,
            time: new Date(started + k * 1000).toISOString(),
          });
        });
        await producer.send({
          topic: TOPICS.access,
          messages: batch.map((e) => ({ key: e.subject, value: JSON.stringify(e) })),
        });
        sent += batch.length;
        if (sent >= MAX_EVENTS) throw new Error(`no handover within ${MAX_EVENTS} events`);
        await sleep(BATCH_EVERY_MS);
      }
    })();
    streamDone = streaming;

    // The first instance alone, then a second joins the group while the first is busy.
    const a = await start('risk-a');
    let b = await start('risk-b');
    let restarts = 0;
    // The mock cluster answers a joining member's SyncGroup with INVALID_REQUEST when the leader's SyncGroup
    // lands first (a real cluster returns the assignment); kafkajs gives up and risk reports unhealthy (503).
    // Replace such a member, as an orchestrator would.
    const replaceIfCrashed = async () => {
      if ((await fetch(`${b.url}/healthz`)).status !== 503) return;
      restarts++;
      await b.service.stop('SIGKILL');
      b = await start(`risk-b${restarts}`);
    };
    // Both consuming, if the mock lets the group form within two tries; the first one alone otherwise.
    const deadline = Date.now() + 120_000;
    let bothConsumed = false;
    for (;;) {
      if (restarts < 2) await replaceIfCrashed();
      const [ma, mb] = await Promise.all([applied(a.url), applied(b.url)]);
      bothConsumed = ma.applied > 0 && mb.applied > 0;
      if (bothConsumed || (restarts >= 2 && ma.applied > 0) || Date.now() > deadline) break;
      await sleep(50);
    }
    // Mid-stream: events are still arriving, and go on a while after the kill.
    const killedHadApplied = (await applied(a.url)).applied;
    a.service.child.kill('SIGKILL');
    stopAfter = sent + 5 * SUBJECTS;
    await replaceIfCrashed();
    await streaming;

    // The survivor takes over the dead member's partitions once the group expires it (the session timeout).
    const profiles = new Map<string, SubjectProfileView>();
    const finish = Date.now() + 240_000;
    while (profiles.size < subjects.length) {
      for (const subject of subjects) {
        if (profiles.has(subject)) continue;
        const res = await fetch(`${b.url}/admin/subjects/${subject}`);
        if (res.status !== 200) continue;
        const view = (await res.json()) as SubjectProfileView;
        if (view.history.accesses >= sentTo.get(subject)!) profiles.set(subject, view);
      }
      if (Date.now() > finish) {
        const m = await applied(b.url).catch(() => null);
        throw new Error(
          `only ${profiles.size} of ${subjects.length} subjects complete; ${sent} sent, survivor applied ` +
            `${m?.applied}, ${restarts} joining member(s) replaced:\n${b.service.output().slice(-4000)}`,
        );
      }
      if (profiles.size < subjects.length) await sleep(250);
    }
    // Settle: anything still being redelivered must change nothing.
    await sleep(1000);
    const survivor = await applied(b.url);
    console.log(
      `${backend}: ${sent} events; both consumed before the kill: ${bothConsumed}; killed instance had ` +
        `applied ${killedHadApplied}; survivor applied ${survivor.applied}, ignored ${survivor.duplicate} ` +
        `redelivered; ${restarts} joining member(s) replaced`,
    );
    expect(killedHadApplied).toBeGreaterThan(0);
    for (const subject of subjects) {
      const view = (await (await fetch(`${b.url}/admin/subjects/${subject}`)).json()) as SubjectProfileView;
      const expected = sentTo.get(subject)!;
      expect({ subject, accesses: view.history.accesses, seen: view.devices[0]?.seenCount }).toEqual({
        subject,
        accesses: expected,
        seen: expected,
      });
      // The velocity window (an hour) holds every one of them, once.
      expect(view.recentAccesses).toHaveLength(expected);
    }
  });
});
