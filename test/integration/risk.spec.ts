// The risk service as deployed: createRiskApp over the Kafka protocol (the mock cluster or KAFKA_BROKERS)
// on SQLite and PostgreSQL, driven only through topics, request/reply and HTTP; and once on the in-process bus.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleLogger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import {
  REQUESTS,
  TOPICS,
  type AccessEvent,
  type ChallengeOutcome,
  type DeadLetter,
  type DecisionChange,
  type RiskAssessment,
} from '@stepgate/contracts';
import { inProcessBroker, KafkaMessageBus, MessageBus } from '@stepgate/kafka';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRiskConfig } from '../../apps/risk/src/config';
import { createRiskApp } from '../../apps/risk/src/risk.bootstrap';
import { AssessmentService } from '../../apps/risk/src/assessments/assessment.service';
import { RetentionService } from '../../apps/risk/src/profiles/retention.service';
import type { SubjectProfileView } from '../../apps/risk/src/admin/admin.service';
import { factories } from '../support/factories';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';
import { kafkaClient, probeTopics, type Probe } from '../support/kafka-probe';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';

const GB_IP = '81.2.69.142';
const GB_OTHER_IP = '81.2.70.9';
const US_IP = '8.8.8.8';

function runtimeFor(env: Record<string, string | undefined>): RuntimeEnv {
  return readRuntimeEnv({
    STEPGATE_CONFIG: resolve(__dirname, '../../config/stepgate.yaml'),
    STEPGATE_RISK_PORT: '0',
    STEPGATE_INSTANCE_ID: `risk-spec-${randomUUID()}`,
    ...env,
  });
}

const quietLogger = () => new ConsoleLogger('risk', { logLevels: ['error'] });

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

async function until<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The signals that moved the score (weight-0 ones are context: history, features offset by others). */
const signalNames = (a: RiskAssessment) => a.signals.filter((s) => s.weight !== 0).map((s) => s.name);
const sumOf = (a: RiskAssessment) => a.signals.reduce((s, x) => s + x.weight, 0);

describe.each(databaseBackends())('risk over Kafka on %s', (backend) => {
  let app: NestFastifyApplication;
  let base: string;
  let probe: Probe;
  let producer: Producer;
  let requester: KafkaMessageBus;
  let db: TestDatabase | undefined;
  let kafka: KafkaForTests | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-risk-'));
  const groupId = `stepgate-risk-spec-${randomUUID()}`;

  beforeAll(async () => {
    kafka = await startOwnKafka();
    const brokers = kafka.brokers;
    if (backend === 'postgres') db = await createTestDatabase();
    // The mock cluster has no controller for InitProducerId: idempotence only on a real cluster.
    const idempotent = process.env.KAFKA_BROKERS ? 'true' : 'false';
    const runtime = runtimeFor({
      STEPGATE_DATA_DIR: dataDir,
      DATABASE_URL: db?.url,
      KAFKA_BROKERS: brokers,
      KAFKA_MAX_WAIT_MS: '25',
      KAFKA_IDEMPOTENT: idempotent,
    });
    producer = kafkaClient(brokers).producer({ allowAutoTopicCreation: true });
    requester = new KafkaMessageBus(
      {
        brokers: brokers.split(','),
        clientId: 'risk-spec',
        groupId: `risk-spec-${randomUUID()}`,
        maxWaitMs: 25,
        idempotent: idempotent === 'true',
      },
      [REQUESTS.assessRisk],
    );
    // Each consumer group takes a few seconds to form on the mock cluster: form them side by side.
    [probe, app] = await Promise.all([
      probeTopics(brokers, [TOPICS.riskAssessment, TOPICS.decisionChange, TOPICS.deadLetter]),
      // A group of its own per run: on the mock cluster, joining a group another member has just left
      // waits out the session timeout (30 s), even after a clean LeaveGroup.
      createRiskApp(runtime, quietLogger(), {
        ...loadRiskConfig(runtime),
        kafka: { groupId },
        // The shipped file may change under a test run (other work in the tree): keep this suite's policy fixed.
        reload: { watch: false, debounceMs: 0 },
      }),
      requester.connect(),
      producer.connect(),
    ]);
    base = await app.getUrl();
  });

  afterAll(async () => {
    await requester?.onApplicationShutdown();
    await producer?.disconnect();
    await app?.close();
    await probe?.stop();
    await kafka?.stop();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const send = async (topic: string, key: string, ...values: (string | object)[]) => {
    await producer.send({
      topic,
      messages: values.map((v) => ({ key, value: typeof v === 'string' ? v : JSON.stringify(v) })),
    });
  };
  const assessmentOf = (causationId: string) =>
    probe.waitFor<RiskAssessment>((a, t) => t === TOPICS.riskAssessment && a.causationId === causationId);
  const profileOf = (subject: string) =>
    getJson<SubjectProfileView>(`${base}/admin/subjects/${encodeURIComponent(subject)}`);

  it('serves health and metrics', async () => {
    expect(await getJson(`${base}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toContain('stepgate_risk_assessments_total');
  });

  it('scores an access from a new device before learning it, and publishes the assessment', async () => {
    const subject = `alice-${randomUUID()}`;
    const event = factories.access({ subject, deviceId: 'd-1', clientIp: GB_IP });
    await send(TOPICS.access, subject, event);
    const assessment = await assessmentOf(event.eventId);
    expect(assessment).toMatchObject({
      subject,
      deviceId: 'd-1',
      correlationId: event.correlationId,
      score: 50,
      level: 'medium',
      deviceStatus: 'unknown',
    });
    expect(assessment.modelVersion).toMatch(/^lr-2\/cfg-[0-9a-f]{8}$/);
    expect(assessment.signals).toEqual([
      {
        name: 'new_device',
        weight: 50,
        detail: 'device d-1 (X-Device-Id header) never seen for this subject',
      },
      {
        name: 'history',
        weight: 0,
        detail: '0 allowed accesses learned; cold start (below 5): global rarity weighs ×1.00',
      },
    ]);

    const profile = await until(async () => {
      const r = await profileOf(subject);
      return r.status === 200 && r.body.devices.length > 0 ? r.body : undefined;
    }, 'the profile');
    expect(profile.devices).toMatchObject([
      { deviceId: 'd-1', status: 'seen', seenCount: 1, lastClientIp: GB_IP },
    ]);
    expect(profile.networks.map((n) => n.value)).toEqual(['81.2.69.0/24']);
    expect(profile.countries.map((c) => c.value)).toEqual(['GB']);
    expect(profile.features.block.map((n) => n.value)).toEqual(['81.2.0.0/16']);
    expect(profile.features.network).toMatchObject([
      { value: '81.2.69.0/24', seenCount: 1, subjects: expect.any(Number) },
    ]);
    expect(profile.history).toMatchObject({
      accesses: 1,
      lastTrustedPlace: { place: expect.stringMatching(/^GB/) },
    });
    expect(profile.recentAccesses).toMatchObject([{ clientIp: GB_IP, deviceId: 'd-1' }]);
    expect(profile.policyVersion).toBe(assessment.modelVersion);
    expect(profile.assessments).toMatchObject([
      {
        assessmentId: assessment.assessmentId,
        source: 'access',
        clientIp: GB_IP,
        route: 'reports',
        decision: 'allow',
        signals: assessment.signals,
      },
    ]);
  });

  it('tells gateways of a change only when its own score disagrees with the level the gateway acted on', async () => {
    const subject = `dora-${randomUUID()}`;
    const changeOf = (causationId: string) =>
      probe.waitFor<DecisionChange>((c, t) => t === TOPICS.decisionChange && c.causationId === causationId);
    // The gateway acted on low (a cached decision, say); risk scores the new device medium.
    const first = factories.access({ subject, deviceId: 'd-1', riskLevel: 'low' });
    await send(TOPICS.access, subject, first);
    expect(await changeOf(first.eventId)).toMatchObject({
      cause: 'access',
      scope: 'device',
      subject,
      deviceId: 'd-1',
      level: 'medium',
      correlationId: first.correlationId,
    });
    // Decided without an assessment, and decided at the level risk gives: nothing to tell.
    const unassessed = factories.access({ subject, deviceId: 'd-1', riskLevel: null, riskScore: null });
    const agreeing = factories.access({ subject, deviceId: 'd-1', riskLevel: 'medium' });
    await send(TOPICS.access, subject, unassessed);
    await send(TOPICS.access, subject, agreeing);
    expect((await assessmentOf(agreeing.eventId)).level).toBe('medium');
    const marker = factories.access({ subject, deviceId: 'd-1', riskLevel: 'low' });
    await send(TOPICS.access, subject, marker);
    expect((await changeOf(marker.eventId)).level).toBe('medium');
    const changes = probe.messages
      .filter((m) => m.topic === TOPICS.decisionChange && m.value.includes(subject))
      .map((m) => (JSON.parse(m.value) as DecisionChange).causationId);
    expect(changes).toEqual([first.eventId, marker.eventId]);
  });

  it('applies an event delivered twice once, and re-publishes the same assessment', async () => {
    const subject = `bob-${randomUUID()}`;
    const event = factories.access({ subject, deviceId: 'd-1' });
    // Same partition (keyed by subject), so when the marker is scored both copies have been handled.
    const marker = factories.access({ subject, deviceId: 'd-1', decision: 'step_up' });
    await send(TOPICS.access, subject, event, event, marker);

    const markerAssessment = await assessmentOf(marker.eventId);
    expect(markerAssessment).toMatchObject({ deviceStatus: 'seen', score: 30, level: 'medium' });
    expect(signalNames(markerAssessment)).toEqual(['unconfirmed_device']);
    const copies = probe.messages
      .filter((m) => m.topic === TOPICS.riskAssessment && m.value.includes(event.eventId))
      .map((m) => (JSON.parse(m.value) as RiskAssessment).assessmentId);
    expect(copies).toHaveLength(2);
    expect(new Set(copies).size).toBe(1);

    const { body } = await profileOf(subject);
    expect(body.devices).toMatchObject([{ deviceId: 'd-1', seenCount: 1 }]);
    expect(body.networks).toMatchObject([{ value: '203.0.113.0/24', seenCount: 1 }]);
    expect(body.assessments.map((a) => a.causationId)).toEqual([marker.eventId, event.eventId]);
  });

  it('dead-letters malformed access events with a reason and keeps consuming', async () => {
    const subject = `carol-${randomUUID()}`;
    const marker = randomUUID();
    const next = factories.access({ subject });
    await send(
      TOPICS.access,
      subject,
      `not json ${marker}`,
      { ...factories.access({ subject }), clientIp: 'nowhere', correlationId: marker },
      next,
    );

    const notJson = await probe.waitFor<DeadLetter>(
      (d, t) => t === TOPICS.deadLetter && d.value.includes(`not json ${marker}`),
    );
    expect(notJson).toMatchObject({ topic: TOPICS.access, consumer: groupId });
    expect(notJson.reason).toMatch(/not a JSON object/);
    const badIp = await probe.waitFor<DeadLetter>(
      (d, t) => t === TOPICS.deadLetter && d.value.includes(`"correlationId":"${marker}"`),
    );
    expect(badIp.reason).toMatch(/^clientIp: /);
    expect(await assessmentOf(next.eventId)).toMatchObject({ subject });
  });

  it('learns from challenge outcomes: failures weigh, a pass confirms the device and scores it low', async () => {
    const subject = `dave-${randomUUID()}`;
    const seen = factories.access({ subject, deviceId: 'd-1', clientIp: GB_IP });
    await send(TOPICS.access, subject, seen);
    await assessmentOf(seen.eventId);

    const challengeId = randomUUID();
    const failed = factories.outcome({
      subject,
      deviceId: 'd-1',
      challengeId,
      result: 'failed',
      attemptsLeft: 4,
    });
    await send(TOPICS.challengeOutcome, subject, failed);
    const afterFailure = await assessmentOf(challengeId);
    expect(afterFailure).toMatchObject({ deviceStatus: 'seen', score: 40, level: 'medium' });
    expect(signalNames(afterFailure)).toEqual(['unconfirmed_device', 'failed_challenges']);
    // Gateways drop every cached decision of the subject: a failure weighs on all of its devices.
    expect(
      await probe.waitFor<DecisionChange>(
        (c, t) => t === TOPICS.decisionChange && c.causationId === challengeId,
      ),
    ).toMatchObject({ cause: 'challenge_outcome', scope: 'subject', subject, level: null });

    const passed: ChallengeOutcome = {
      ...failed,
      result: 'passed',
      time: new Date(Date.now() + 1).toISOString(),
      attemptsLeft: 3,
    };
    await send(TOPICS.challengeOutcome, subject, passed);
    const confirmed = await probe.waitFor<RiskAssessment>(
      (a, t) =>
        t === TOPICS.riskAssessment && a.causationId === challengeId && a.deviceStatus === 'confirmed',
    );
    // The passed challenge also ends the failure streak.
    expect(confirmed).toMatchObject({ subject, deviceId: 'd-1', score: 0, level: 'low' });
    expect(signalNames(confirmed)).toEqual([]);

    // The gateway's question for the next request from the same device and network.
    const reply = await requester.request(
      REQUESTS.assessRisk,
      factories.assessRequest({ subject, deviceId: 'd-1', clientIp: GB_IP }),
      15_000,
    );
    expect(reply).toMatchObject({
      subject,
      deviceStatus: 'confirmed',
      level: 'low',
      score: 0,
      causationId: null,
    });

    const { body } = await profileOf(subject);
    expect(body.devices).toMatchObject([{ deviceId: 'd-1', status: 'confirmed' }]);
    expect(body.challenges.map((c) => c.result)).toEqual(['passed', 'failed']);
  });

  it('answers assess requests read-only: new networks and countries count, nothing is learned', async () => {
    const subject = `erin-${randomUUID()}`;
    const seen = factories.access({ subject, deviceId: 'd-1', clientIp: GB_IP });
    await send(TOPICS.access, subject, seen);
    await assessmentOf(seen.eventId);

    const ask = () =>
      requester.request(
        REQUESTS.assessRisk,
        factories.assessRequest({ subject, deviceId: 'd-1', clientIp: US_IP }),
        15_000,
      );
    const first = await ask();
    // Unconfirmed, a known device id from a network new to the subject, and from London to the US in
    // seconds; the model adds the novelty (a region and city the geo data does not know are new values too;
    // the familiar client, test-agent with no OS, may take a little off it, as the population has it).
    expect(first).toMatchObject({ deviceStatus: 'seen', level: 'critical' });
    expect(first.signals.filter((s) => s.weight > 0).map((s) => s.name)).toEqual([
      'unconfirmed_device',
      'device_context_changed',
      'impossible_travel',
      'model_network',
      'model_block',
      'model_country',
      'model_region',
      'model_city',
    ]);
    expect(first.score).toBe(Math.min(100, sumOf(first)));
    expect((await ask()).score).toBe(first.score);
    const { body } = await profileOf(subject);
    expect(body.networks.map((n) => n.value)).toEqual(['81.2.69.0/24']);
  });

  it('applies an event once when two consumers race on it (a rebalance handing a partition over)', async () => {
    const sut = app.get(AssessmentService);
    const subject = `gina-${randomUUID()}`;
    const event = factories.access({ subject, deviceId: 'd-1' });
    await Promise.all([sut.onAccess(event), sut.onAccess(event), sut.onAccess(event)]);

    const { body } = await profileOf(subject);
    expect(body.devices).toMatchObject([{ deviceId: 'd-1', seenCount: 1 }]);
    expect(body.assessments).toHaveLength(1);
    // Every caller published, and all of them the one stored assessment.
    const published = () =>
      probe.messages.filter((m) => m.topic === TOPICS.riskAssessment && m.value.includes(event.eventId));
    await until(() => (published().length === 3 ? true : undefined), 'three publications');
    const ids = published().map((m) => (JSON.parse(m.value) as RiskAssessment).assessmentId);
    expect(new Set(ids)).toEqual(new Set([body.assessments[0]!.assessmentId]));
  });

  it('learns accesses applied out of order: first seen is the earliest, the last context the newest', async () => {
    const sut = app.get(AssessmentService);
    const subject = `jack-${randomUUID()}`;
    const at = (iso: string) => new Date(iso).toISOString();
    // Both passed a strong step-up, so both are learned whatever their order.
    const newer = factories.steppedUpAccess({
      subject,
      time: at('2025-06-01T12:00:00Z'),
      clientIp: GB_IP,
    });
    const older = factories.steppedUpAccess({
      subject,
      time: at('2025-06-01T11:00:00Z'),
      clientIp: GB_OTHER_IP,
    });
    await sut.onAccess(newer);
    await sut.onAccess(older);

    const { body } = await profileOf(subject);
    expect(body.devices).toMatchObject([
      {
        seenCount: 2,
        firstSeenAt: older.time,
        lastSeenAt: newer.time,
        lastClientIp: GB_IP,
      },
    ]);
    expect(body.networks).toMatchObject([
      { value: '81.2.70.0/24', firstSeenAt: older.time, lastSeenAt: older.time },
      { value: '81.2.69.0/24', firstSeenAt: newer.time, lastSeenAt: newer.time },
    ]);
  });

  it('answers 404 for an unknown subject and 400 for a bad limit', async () => {
    expect((await profileOf(`nobody-${randomUUID()}`)).status).toBe(404);
    expect((await getJson(`${base}/admin/subjects/x?limit=0`)).status).toBe(400);
  });
});

describe('risk on the in-process bus', () => {
  let app: NestFastifyApplication;
  let base: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-risk-'));
  const published: RiskAssessment[] = [];
  const captureGroup = `risk-spec-capture-${randomUUID()}`;

  beforeAll(async () => {
    inProcessBroker.subscribe(TOPICS.riskAssessment, captureGroup, async (m) => {
      published.push(JSON.parse(m.value) as RiskAssessment);
    });
    const runtime = runtimeFor({ STEPGATE_DATA_DIR: dataDir });
    const config = loadRiskConfig(runtime);
    app = await createRiskApp(runtime, quietLogger(), {
      ...config,
      retention: { ...config.retention, assessmentsPerSubject: 2 },
      reload: { watch: false, debounceMs: 0 },
    });
    base = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    inProcessBroker.unsubscribeGroup(captureGroup);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts and serves /healthz', async () => {
    expect(await getJson(`${base}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('scores access events and answers assess requests', async () => {
    const bus = app.get(MessageBus);
    const subject = `frank-${randomUUID()}`;
    const event: AccessEvent = factories.access({ subject, deviceId: 'd-1' });
    await bus.publish(TOPICS.access, event);
    await bus.publish(TOPICS.access, event);
    await inProcessBroker.drain();
    // The redelivery changed nothing and re-published the same assessment.
    const copies = published.filter((a) => a.causationId === event.eventId);
    expect(copies.map(signalNames)).toEqual([['new_device'], ['new_device']]);
    expect(copies[1]!.assessmentId).toBe(copies[0]!.assessmentId);

    await bus.publish(
      TOPICS.challengeOutcome,
      factories.outcome({ subject, deviceId: 'd-1', result: 'passed' }),
    );
    await inProcessBroker.drain();
    const reply = await bus.request(
      REQUESTS.assessRisk,
      factories.assessRequest({ subject, deviceId: 'd-1' }),
      5_000,
    );
    expect(reply).toMatchObject({ deviceStatus: 'confirmed', level: 'low', score: 0 });
  });

  it('keeps only the newest assessments of a subject', async () => {
    const bus = app.get(MessageBus);
    const subject = `hank-${randomUUID()}`;
    const events = [1, 2, 3].map(() => factories.steppedUpAccess({ subject, deviceId: 'd-1' }));
    for (const e of events) await bus.publish(TOPICS.access, e);
    await inProcessBroker.drain();

    const { body } = await getJson<SubjectProfileView>(`${base}/admin/subjects/${subject}`);
    expect(body.assessments.map((a) => a.causationId)).toEqual([events[2]!.eventId, events[1]!.eventId]);
    expect(body.devices).toMatchObject([{ seenCount: 3 }]);
    // The oldest row goes in the next trim (every few seconds, off the batch's path), and only once.
    const retention = app.get(RetentionService);
    expect(await retention.trimAssessments()).toBe(1);
    expect(await retention.trimAssessments()).toBe(0);
  });

  it("learns only what its own score says the route let through, never from the gateway's word", async () => {
    const bus = app.get(MessageBus);
    const subject = `mallory-${randomUUID()}`;
    // A new device is medium for risk: reports allows medium, payments steps up.
    const unlearned = [
      // StepGate's own API, allowed without asking risk: not one of the policy's routes.
      { route: 'stepgate.challenge', reason: 'stepgate api', riskScore: null, riskLevel: null },
      // Forwarded by a monitor-mode route that would have stepped up or denied.
      { route: 'reports', monitored: true },
      // Allowed by the gateway at low (its cache), but payments steps up at risk's own medium.
      { route: 'payments', riskScore: 0, riskLevel: 'low' as const },
      // Stepped up, but with less than the route asks at medium.
      { route: 'payments', steppedUp: true, acr: 'urn:stepgate:acr:basic' },
    ];
    for (const over of unlearned) {
      await bus.publish(
        TOPICS.access,
        factories.access({ subject, deviceId: 'd-7', decision: 'allow', ...over }),
      );
    }
    await inProcessBroker.drain();
    const ask = () =>
      bus.request(REQUESTS.assessRisk, factories.assessRequest({ subject, deviceId: 'd-7' }), 5_000);
    const reply = await ask();
    expect(reply).toMatchObject({ deviceStatus: 'unknown' });
    expect(signalNames(reply)).toContain('new_device');

    // Stepped up with what payments asks at medium: learned.
    await bus.publish(
      TOPICS.access,
      factories.access({
        subject,
        deviceId: 'd-7',
        route: 'payments',
        steppedUp: true,
        acr: 'urn:stepgate:acr:mfa',
      }),
    );
    await inProcessBroker.drain();
    expect(await ask()).toMatchObject({ deviceStatus: 'seen' });
  });

  it('lets a recovery code through without confirming the device', async () => {
    const bus = app.get(MessageBus);
    const subject = `rita-${randomUUID()}`;
    await bus.publish(TOPICS.access, factories.access({ subject, deviceId: 'd-9' }));
    await bus.publish(
      TOPICS.challengeOutcome,
      factories.outcome({ subject, deviceId: 'd-9', method: 'recovery_code', result: 'passed' }),
    );
    await inProcessBroker.drain();
    const reply = await bus.request(
      REQUESTS.assessRisk,
      factories.assessRequest({ subject, deviceId: 'd-9' }),
      5_000,
    );
    // A last-resort code says who the user is, not that this device is theirs: the next access asks again.
    expect(reply).toMatchObject({ deviceStatus: 'seen' });
    expect(signalNames(reply)).toContain('unconfirmed_device');
  });

  it('marks anonymous accesses and expired challenges processed without scoring them', async () => {
    const bus = app.get(MessageBus);
    const anonymous = factories.access({ subject: null, decision: 'unauthenticated', status: 401 });
    const expired = factories.outcome({ subject: `ivy-${randomUUID()}`, result: 'expired' });
    await bus.publish(TOPICS.access, anonymous);
    await bus.publish(TOPICS.challengeOutcome, expired);
    await inProcessBroker.drain();

    expect(
      published.filter((a) => a.causationId === anonymous.eventId || a.causationId === expired.challengeId),
    ).toEqual([]);
    expect((await getJson(`${base}/admin/subjects/${expired.subject}`)).status).toBe(404);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /stepgate_risk_messages_total\{topic="stepgate\.access\.v3",outcome="ignored",service="risk"\} 1/,
    );
    expect(metrics).toMatch(
      /stepgate_risk_messages_total\{topic="stepgate\.challenge\.outcome\.v1",outcome="ignored",service="risk"\} 1/,
    );
  });
});
