// Faults without outages or lost events: every service a process over the Kafka protocol (a mock cluster of
// the spec's own), risk on PostgreSQL. A message its handler cannot apply, whether its contract should have
// refused it (a NUL the database refuses) or not (a fault injected with a trigger), is retried a few times and
// dead-lettered with the error while the rest of its partition is learnt and the gateway keeps getting risk
// answers; an outage of what the handler needs is retried until it ends and never dead-lettered; and a consumer
// that fell behind retention records the offsets it skipped, counts them and says so on readiness.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS, type DeadLetter, type RiskAssessment } from '@stepgate/contracts';
import type { Producer } from 'kafkajs';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factories } from '../support/factories';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';
import { kafkaClient, probeTopics, type Probe } from '../support/kafka-probe';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../support/postgres';
import {
  entry,
  eventually,
  freePorts,
  ROOT,
  startService,
  stepgateEnv,
  waitForHealthy,
  type Service,
} from '../support/processes';

const ACCESS = TOPICS.access;
/** Redelivery as the spec runs it: three attempts, 300 ms then 600 ms apart. */
const ATTEMPTS = 3;
const FILLER = 'x'.repeat(500_000);

interface Health {
  status: number;
  json: { status: string; reasons?: string[]; warnings?: string[] };
}

async function health(url: string): Promise<Health> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as Health['json'] };
}

/** Sum of a Prometheus counter's series whose labels match. */
function counter(text: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})?\\s+(\\S+)$`).exec(line);
    if (m && labels.test(m[1] ?? '')) sum += Number(m[2]);
  }
  return sum;
}

describe.skipIf(!postgresAvailable())('consumer faults over Kafka, services as processes', () => {
  const run = randomUUID().slice(0, 8);
  const prefix = `faults-${run}`;
  const services: Service[] = [];
  let kafka: KafkaForTests;
  let db: TestDatabase;
  let producer: Producer;
  let probe: Probe;
  let env: Record<string, string>;
  let gateway: string;
  let risk: string;
  const firstUnread = factories.steppedUpAccess({ subject: `reset-${run}` });
  const afterReset = factories.steppedUpAccess({ subject: `reset-after-${run}` });

  const deadLetters = () =>
    probe.messages.filter((m) => m.topic === TOPICS.deadLetter).map((m) => JSON.parse(m.value) as DeadLetter);
  const assessed = (eventId: string) =>
    probe.waitFor<RiskAssessment>(
      (a, topic) => topic === TOPICS.riskAssessment && a.causationId === eventId,
      30_000,
    );
  const riskMetrics = async () => (await fetch(`${risk}/metrics`)).text();
  const sql = async (text: string) => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  /** What the gateway answers a payment from a device risk has never seen: it must ask risk. */
  const payment = async (subject: string) => {
    const token = execFileSync(process.execPath, [entry('dev-issuer', 'token.cli.js'), '--sub', subject], {
      env,
      cwd: ROOT,
    })
      .toString()
      .trim();
    const res = await fetch(`${gateway}/api/payments/42`, {
      headers: { authorization: `Bearer ${token}`, 'x-device-id': `fresh-${randomUUID()}` },
    });
    return { status: res.status, json: (await res.json()) as { reason?: string; risk?: { level: unknown } } };
  };

  beforeAll(async () => {
    kafka = await startOwnKafka();
    db = await createTestDatabase();
    producer = kafkaClient(kafka.brokers).producer({ allowAutoTopicCreation: true });
    await producer.connect();

    // A risk consumer group that fell behind retention: it had reached offset 1 of partition 0 when the
    // broker's retention (the mock keeps ~5 MiB a partition) removed everything up to the filler's tail.
    await producer.send({ topic: ACCESS, messages: [{ partition: 0, value: JSON.stringify(firstUnread) }] });
    const behind = kafkaClient(kafka.brokers).consumer({
      groupId: `${prefix}-risk`,
      maxWaitTimeInMs: 25,
      sessionTimeout: 6000,
    });
    const joined = new Promise((resolve) => behind.on(behind.events.GROUP_JOIN, resolve));
    await behind.connect();
    await behind.subscribe({ topic: ACCESS, fromBeginning: true });
    await behind.run({ autoCommit: false, eachMessage: async () => {} });
    await joined;
    behind.pause([{ topic: ACCESS }]);
    await behind.commitOffsets([{ topic: ACCESS, partition: 0, offset: '1' }]);
    await behind.disconnect();
    for (let i = 0; i < 14; i++)
      await producer.send({ topic: ACCESS, messages: [{ partition: 0, value: FILLER }] });
    await producer.send({ topic: ACCESS, messages: [{ partition: 0, value: JSON.stringify(afterReset) }] });

    const ports = await freePorts();
    env = stepgateEnv(ports, {
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_MAX_WAIT_MS: '25',
      STEPGATE_KAFKA_GROUP_PREFIX: prefix,
      ...(process.env.KAFKA_BROKERS ? {} : { KAFKA_IDEMPOTENT: 'false' }),
    });
    const file = join(env.STEPGATE_DATA_DIR!, 'stepgate.yaml');
    const shipped = readFileSync(join(ROOT, 'config/stepgate.yaml'), 'utf8');
    const redelivery = 'redelivery: { attempts: 5, backoffMs: 500, maxBackoffMs: 30000 }';
    expect(shipped).toContain(redelivery);
    writeFileSync(
      file,
      shipped.replaceAll(
        redelivery,
        `redelivery: { attempts: ${ATTEMPTS}, backoffMs: 300, maxBackoffMs: 1000 }`,
      ),
    );
    env.STEPGATE_CONFIG = file;
    gateway = `http://127.0.0.1:${ports.gateway}`;
    risk = `http://127.0.0.1:${ports.risk}`;
    probe = await probeTopics(kafka.brokers, [TOPICS.deadLetter, TOPICS.riskAssessment]);

    const start = (name: string, extra: Record<string, string> = {}) => {
      const s = startService(name, [entry(name)], {
        ...env,
        STEPGATE_INSTANCE_ID: `${prefix}-${name}`,
        ...extra,
      });
      services.push(s);
      return s;
    };
    await waitForHealthy(`http://127.0.0.1:${ports.upstream}/healthz`, start('demo-upstream'));
    await waitForHealthy(`http://127.0.0.1:${ports.issuer}/healthz`, start('dev-issuer'));
    await Promise.all([
      waitForHealthy(`${risk}/healthz`, start('risk', { DATABASE_URL: db.url })),
      waitForHealthy(`http://127.0.0.1:${ports.challenge}/healthz`, start('challenge')),
    ]);
    const gw = start('gateway');
    await waitForHealthy(`${gateway}/.stepgate/healthz`, gw);
    await eventually(
      async () => ((await fetch(`${gateway}/.stepgate/readyz`)).ok ? true : undefined),
      'the gateway ready',
      60_000,
    );
  }, 180_000);

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    // Kafka may be gone (the last test stops it): a client's goodbye must not hold the run up.
    const briefly = (p: Promise<unknown> | undefined) =>
      Promise.race([p?.catch(() => undefined), sleep(5000)]);
    await briefly(probe?.stop());
    await briefly(producer?.disconnect());
    await kafka?.stop();
    await db?.drop();
  });

  it('records the offsets a reset skipped, counts them and warns on readiness', async () => {
    const record = await eventually(
      async () => deadLetters().find((d) => d.reason.startsWith('offset out of range')),
      'the record of the reset',
      30_000,
    );
    expect(record).toMatchObject({ topic: ACCESS, partition: 0, offset: '1', value: '', key: null });
    expect(record.reason).toMatch(
      /^offset out of range: stepgate\.access\.v3\[0\]: offsets 1 to \d+ \(\d+\) deleted by retention before this consumer read them; resumed at \d+$/,
    );
    // What survived retention is learnt: the consumer resumed at the earliest offset the broker had.
    await assessed(afterReset.eventId);
    const metrics = await riskMetrics();
    // At least the one recorded: retention may drop more while the consumer catches up, and reset it again.
    expect(
      counter(metrics, 'stepgate_kafka_offset_resets_total', /topic="stepgate\.access\.v3"/),
    ).toBeGreaterThanOrEqual(1);
    expect(counter(metrics, 'stepgate_kafka_skipped_messages_total')).toBeGreaterThan(0);
    const ready = await health(`${risk}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^offset reset at .*stepgate\.access\.v3\[0\]: offsets 1 to/),
      ]),
    );
  });

  it('dead-letters a NUL the database cannot hold at the door; the partition is learnt and payments get risk answers', async () => {
    const poison = factories.steppedUpAccess({ subject: `nul-${run}\u0000x` });
    const next = factories.steppedUpAccess({ subject: `nul-next-${run}` });
    // Raw, as a broken or hostile producer would send it: the JSON escape is a NUL once parsed.
    execFileSync('kcat', ['-P', '-b', kafka.brokers, '-t', ACCESS, '-p', '1'], {
      input: `${JSON.stringify(poison)}\n${JSON.stringify(next)}\n`,
    });

    const answer = await payment(`payer-${run}`);
    expect(answer.json.reason).not.toBe('risk unavailable');
    expect(answer.json.risk?.level).toEqual(expect.any(String));
    const refused = await eventually(
      async () => deadLetters().find((d) => d.value.includes(poison.eventId)),
      'the poison dead-lettered',
    );
    expect(refused).toMatchObject({ topic: ACCESS, partition: 1 });
    expect(refused.reason).toMatch(/subject: must not contain NUL/);
    await assessed(next.eventId);
    expect((await health(`${risk}/healthz`)).status).toBe(200);
  });

  it('retries a valid message its handler keeps failing, then dead-letters it with the error; the rest is learnt meanwhile', async () => {
    await sql(`
      CREATE FUNCTION faults_inject() RETURNS trigger AS $$
      BEGIN
        IF NEW.subject LIKE 'fault-%' THEN RAISE EXCEPTION 'injected fault for %', NEW.subject; END IF;
        IF NEW.subject LIKE 'outage-%' AND EXISTS (SELECT 1 FROM faults_outage) THEN
          RAISE EXCEPTION 'injected outage' USING ERRCODE = '57P03';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      CREATE TABLE faults_outage (on_since timestamptz);
      CREATE TRIGGER faults_inject BEFORE INSERT ON risk_assessments FOR EACH ROW EXECUTE FUNCTION faults_inject();
    `);
    const fault = factories.steppedUpAccess({ subject: `fault-${run}` });
    const before = factories.steppedUpAccess({ subject: `learnt-before-${run}` });
    const after = factories.steppedUpAccess({ subject: `learnt-after-${run}` });
    const failuresBefore = counter(await riskMetrics(), 'stepgate_kafka_handler_failures_total');
    await producer.send({
      topic: ACCESS,
      messages: [before, fault, after].map((e) => ({
        partition: 2,
        key: e.subject,
        value: JSON.stringify(e),
      })),
    });

    // The batch failed as a whole; run one by one, the message before the bad one applies.
    await assessed(before.eventId);
    // While the bad one waits between attempts, the consumer answers the gateway's synchronous requests.
    for (let i = 0; i < 3; i++) {
      const answer = await payment(`payer-${run}-${i}`);
      expect(answer.json.reason).not.toBe('risk unavailable');
      expect(answer.json.risk?.level).toEqual(expect.any(String));
      await sleep(200);
    }
    const dead = await eventually(
      async () => deadLetters().find((d) => d.value.includes(fault.eventId)),
      'the failing message dead-lettered',
    );
    expect(dead).toMatchObject({ topic: ACCESS, partition: 2, offset: expect.any(String) });
    expect(dead.reason).toMatch(
      new RegExp(`^handler failed after ${ATTEMPTS} attempts: .*injected fault for fault-`),
    );
    expect(JSON.parse(dead.value)).toEqual(fault);
    await assessed(after.eventId);

    const metrics = await riskMetrics();
    expect(counter(metrics, 'stepgate_kafka_dead_letters_total', /kind="handler_failed"/)).toBe(1);
    expect(
      counter(metrics, 'stepgate_kafka_handler_failures_total', /fault="message"/) - failuresBefore,
    ).toBe(ATTEMPTS);
    expect((await health(`${risk}/healthz`)).status).toBe(200);
  });

  it('retries through an outage of what the handler needs and never dead-letters for it', async () => {
    await sql(`INSERT INTO faults_outage VALUES (now())`);
    const event = factories.steppedUpAccess({ subject: `outage-${run}` });
    await producer.send({ topic: ACCESS, messages: [{ partition: 3, value: JSON.stringify(event) }] });

    const failing = await eventually(async () => {
      const ready = await health(`${risk}/readyz`);
      return ready.json.warnings?.find((w) => w.includes('retried until it recovers')) ? ready : undefined;
    }, 'readiness to report the partition retrying');
    // Still ready: risk answers and learns on every other partition.
    expect(failing.status).toBe(200);
    expect(failing.json.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^stepgate\.access\.v3\[3\] offset \d+: handling fails since .*injected outage/,
        ),
      ]),
    );
    // Well past the attempts a fault of the message gets.
    await sleep(4000);
    expect(deadLetters().some((d) => d.value.includes(event.eventId))).toBe(false);

    await sql(`DELETE FROM faults_outage`);
    await assessed(event.eventId);
    expect(deadLetters().some((d) => d.value.includes(event.eventId))).toBe(false);
    const metrics = await riskMetrics();
    expect(
      counter(metrics, 'stepgate_kafka_handler_failures_total', /fault="infrastructure"/),
    ).toBeGreaterThan(ATTEMPTS);
  });
  // Last: it stops the spec's Kafka.
  it.skipIf(Boolean(process.env.KAFKA_BROKERS))(
    'stays live and ready while Kafka is away, risk and the gateway warning that it is',
    { timeout: 120_000 },
    async () => {
      await kafka.stop();
      const away =
        /^(Kafka unreachable since .*; the consumer is reconnecting|no answer from Kafka for \d+ s)$/;
      // Risk still answers assessments from its database (the direct path): it warns, and stays in rotation.
      const warned = await eventually(
        async () => {
          expect((await health(`${risk}/healthz`)).status).toBe(200);
          const ready = await health(`${risk}/readyz`);
          return ready.json.warnings?.some((w) => away.test(w)) ? ready : undefined;
        },
        'risk to report Kafka away',
        90_000,
      );
      expect(warned.status).toBe(200);
      expect(await health(`${risk}/healthz`)).toEqual({ status: 200, json: { status: 'ok' } });
      // The gateway serves on: ready, and says why it warns.
      const gw = await eventually(
        async () => {
          const ready = await health(`${gateway}/.stepgate/readyz`);
          expect(ready.status).toBe(200);
          return ready.json.warnings?.some((w) => away.test(w)) ? ready : undefined;
        },
        'the gateway to warn that Kafka is away',
        90_000,
      );
      expect(gw.json.status).toBe('ready');
      expect((await health(`${gateway}/.stepgate/healthz`)).status).toBe(200);
    },
  );
});
