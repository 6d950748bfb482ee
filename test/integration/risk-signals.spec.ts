// The risk service's signals, model, retention and live policy, end to end: createRiskApp over the Kafka
// protocol (the mock cluster) on SQLite and PostgreSQL, with a config file of the suite's own that the tests
// edit while risk runs.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleLogger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readRuntimeEnv } from '@stepgate/config';
import { REQUESTS, TOPICS, type AccessEvent, type RiskAssessment } from '@stepgate/contracts';
import { KafkaMessageBus } from '@stepgate/kafka';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectProfileView } from '../../apps/risk/src/admin/admin.service';
import { AssessmentService } from '../../apps/risk/src/assessments/assessment.service';
import { RiskPolicyService } from '../../apps/risk/src/policy/risk-policy.service';
import { RetentionService } from '../../apps/risk/src/profiles/retention.service';
import { createRiskApp } from '../../apps/risk/src/risk.bootstrap';
import { factories } from '../support/factories';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';
import { kafkaClient, probeTopics, type Probe } from '../support/kafka-probe';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';

const LONDON = '81.2.69.142';
const NEW_YORK_AREA = '8.8.8.8';
const BAD = '198.51.100.0/24';
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const shipped = readFileSync(resolve(__dirname, '../../config/stepgate.yaml'), 'utf8');

const positive = (a: RiskAssessment) => a.signals.filter((s) => s.weight > 0).map((s) => s.name);

/** The shipped risk section with this suite's lists, velocity limit, retention and a quick reload. */
function suiteConfig(): string {
  const replace = (text: string, from: string | RegExp, to: string) => {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`the shipped config no longer has ${String(from)}`);
    return next;
  };
  let text = shipped;
  text = replace(
    text,
    /lists: \{ badIps: \[\], trustedNetworks: \[\] \}/,
    `lists: { badIps: ['${BAD}'], trustedNetworks: [] }`,
  );
  text = replace(
    text,
    /requests: \{ windowSeconds: 60, max: 60 \}/,
    'requests: { windowSeconds: 60, max: 3 }',
  );
  text = replace(text, /valuesPerFeature: \d+/, 'valuesPerFeature: 2');
  text = replace(text, /debounceMs: \d+/, 'debounceMs: 20');
  return text;
}

describe.each(databaseBackends())('risk signals over Kafka on %s', (backend) => {
  let app: NestFastifyApplication;
  let base: string;
  let probe: Probe;
  let producer: Producer;
  let requester: KafkaMessageBus;
  let db: TestDatabase | undefined;
  let kafka: KafkaForTests | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-risk-signals-'));
  const configFile = join(dir, 'stepgate.yaml');

  beforeAll(async () => {
    writeFileSync(configFile, suiteConfig());
    kafka = await startOwnKafka();
    const brokers = kafka.brokers;
    if (backend === 'postgres') db = await createTestDatabase();
    const idempotent = process.env.KAFKA_BROKERS ? 'true' : 'false';
    const runtime = readRuntimeEnv({
      STEPGATE_CONFIG: configFile,
      STEPGATE_RISK_PORT: '0',
      STEPGATE_INSTANCE_ID: `risk-signals-${randomUUID()}`,
      STEPGATE_DATA_DIR: join(dir, 'data'),
      DATABASE_URL: db?.url,
      KAFKA_BROKERS: brokers,
      KAFKA_MAX_WAIT_MS: '25',
      KAFKA_IDEMPOTENT: idempotent,
      // A group of its own: on the mock cluster, rejoining a group just left waits out the session timeout.
      STEPGATE_KAFKA_GROUP_PREFIX: `risk-signals-${randomUUID()}`,
    });
    producer = kafkaClient(brokers).producer({ allowAutoTopicCreation: true });
    requester = new KafkaMessageBus(
      {
        brokers: brokers.split(','),
        clientId: 'risk-signals-spec',
        groupId: `risk-signals-spec-${randomUUID()}`,
        maxWaitMs: 25,
        idempotent: idempotent === 'true',
      },
      [REQUESTS.assessRisk],
    );
    [probe, app] = await Promise.all([
      probeTopics(brokers, [TOPICS.riskAssessment]),
      createRiskApp(runtime, new ConsoleLogger('risk', { logLevels: ['error'] })),
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
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (...events: AccessEvent[]) =>
    producer.send({
      topic: TOPICS.access,
      messages: events.map((e) => ({ key: e.subject, value: JSON.stringify(e) })),
    });
  const assessmentOf = (causationId: string) =>
    probe.waitFor<RiskAssessment>((a, t) => t === TOPICS.riskAssessment && a.causationId === causationId);
  const profileOf = async (subject: string) =>
    (await (
      await fetch(`${base}/admin/subjects/${encodeURIComponent(subject)}`)
    ).json()) as SubjectProfileView;
  const at = (minutes: number) =>
    new Date(Date.parse('2025-06-01T08:00:00Z') + minutes * 60_000).toISOString();
  const assess = (subject: string, over: Partial<Parameters<typeof factories.assessRequest>[0]> = {}) =>
    requester.request(REQUESTS.assessRisk, factories.assessRequest({ subject, ...over }), 15_000);

  it('learns device families, every feature, the history and the population; admin shows them', async () => {
    const subject = `ua-${randomUUID()}`;
    const first = factories.access({
      subject,
      deviceId: 'd-1',
      clientIp: LONDON,
      userAgent: CHROME,
      time: at(0),
    });
    await send(first);
    await assessmentOf(first.eventId);

    const profile = await profileOf(subject);
    expect(profile.devices).toMatchObject([
      { deviceId: 'd-1', browserFamily: 'Chrome', osFamily: 'Windows' },
    ]);
    expect(profile.features).toMatchObject({
      network: [{ value: '81.2.69.0/24', seenCount: 1 }],
      block: [{ value: '81.2.0.0/16', seenCount: 1 }],
      country: [{ value: 'GB', seenCount: 1 }],
      browser: [{ value: 'Chrome', seenCount: 1 }],
      os: [{ value: 'Windows', seenCount: 1 }],
      device_type: [{ value: 'desktop', seenCount: 1 }],
    });
    expect(profile.features.city[0]?.value).toMatch(/^GB\//);
    expect(profile.history.accesses).toBe(1);
    expect(profile.history.lastTrustedPlace).toMatchObject({ accuracyKm: expect.any(Number) });

    // A second subject with the same browser: the population counts subjects, once each.
    const other = `ua-${randomUUID()}`;
    const theirs = factories.steppedUpAccess({
      subject: other,
      deviceId: 'x',
      clientIp: NEW_YORK_AREA,
      userAgent: CHROME,
    });
    await send(theirs, { ...theirs, eventId: randomUUID() });
    await probe.waitFor<RiskAssessment>((a) => a.subject === other && a.deviceStatus === 'seen');
    const chromeUsers = (await profileOf(other)).features.browser[0]!.subjects;
    expect(chromeUsers).toBe((await profileOf(subject)).features.browser[0]!.subjects);
    expect((await profileOf(other)).features.browser[0]!.seenCount).toBe(2);
  });

  it('does not let a replayed device id pass with another browser from elsewhere', async () => {
    const subject = `replay-${randomUUID()}`;
    const own = factories.access({ subject, deviceId: 'd-1', clientIp: LONDON, userAgent: CHROME });
    await send(own);
    await assessmentOf(own.eventId);
    await producer.send({
      topic: TOPICS.challengeOutcome,
      messages: [{ key: subject, value: JSON.stringify(factories.outcome({ subject, deviceId: 'd-1' })) }],
    });
    await probe.waitFor<RiskAssessment>((a) => a.subject === subject && a.deviceStatus === 'confirmed');
    expect(await assess(subject, { deviceId: 'd-1', clientIp: LONDON, userAgent: CHROME })).toMatchObject({
      level: 'low',
    });

    const replayed = await assess(subject, { deviceId: 'd-1', clientIp: NEW_YORK_AREA, userAgent: FIREFOX });
    expect(replayed.deviceStatus).toBe('confirmed');
    expect(replayed.level).not.toBe('low');
    expect(positive(replayed)).toContain('device_context_changed');
    expect(replayed.signals.find((s) => s.name === 'device_context_changed')!.detail).toMatch(
      /was Chrome on Windows, now Firefox on Linux/,
    );
  });

  it("learns from its own score of an access, not from the gateway's (cached) verdict", async () => {
    const subject = `cached-${randomUUID()}`;
    const own = factories.access({
      subject,
      deviceId: 'd-1',
      clientIp: LONDON,
      userAgent: CHROME,
      time: at(0),
    });
    await send(own);
    await assessmentOf(own.eventId);
    await producer.send({
      topic: TOPICS.challengeOutcome,
      messages: [
        { key: subject, value: JSON.stringify(factories.outcome({ subject, deviceId: 'd-1', time: at(1) })) },
      ],
    });
    await probe.waitFor<RiskAssessment>((a) => a.subject === subject && a.deviceStatus === 'confirmed');

    // The gateway served a payments call from its cache (low, for the device's earlier context) to whoever
    // holds the token and the device id, from another browser: allowed, never asked.
    const copied = factories.access({
      subject,
      deviceId: 'd-1',
      clientIp: LONDON,
      userAgent: FIREFOX,
      route: 'payments',
      path: '/api/payments/1',
      decision: 'allow',
      riskScore: 0,
      riskLevel: 'low',
      time: at(2),
    });
    await send(copied);
    const scored = await assessmentOf(copied.eventId);
    expect(scored.level).toBe('medium');
    expect(positive(scored)).toContain('device_context_changed');

    // Recorded (it counts for velocity, the assessment says what the gateway did), not learned.
    const profile = await profileOf(subject);
    expect(profile.assessments[0]).toMatchObject({ causationId: copied.eventId, decision: 'allow' });
    expect(profile.recentAccesses).toHaveLength(2);
    expect(profile.devices).toMatchObject([
      { deviceId: 'd-1', seenCount: 1, browserFamily: 'Chrome', osFamily: 'Windows' },
    ]);
    expect(profile.features.browser.map((b) => b.value)).toEqual(['Chrome']);
    expect(profile.history.accesses).toBe(1);
  });

  it('takes a missing user agent for a change, and never lets it erase what was learned', async () => {
    const subject = `bare-${randomUUID()}`;
    const own = factories.access({
      subject,
      deviceId: 'd-1',
      clientIp: LONDON,
      userAgent: CHROME,
      time: at(0),
    });
    await send(own);
    await assessmentOf(own.eventId);
    // Even learned (it passed a step-up), the bare access leaves the device its families.
    const bare = factories.steppedUpAccess({
      subject,
      deviceId: 'd-1',
      clientIp: LONDON,
      userAgent: '',
      time: at(1),
    });
    await send(bare);
    const scored = await assessmentOf(bare.eventId);
    expect(scored.signals.find((s) => s.name === 'device_context_changed')?.detail).toMatch(
      /was Chrome on Windows, now no browser$/,
    );
    const profile = await profileOf(subject);
    expect(profile.devices).toMatchObject([{ seenCount: 2, browserFamily: 'Chrome', osFamily: 'Windows' }]);
    expect(profile.features.browser.map((b) => b.value).sort()).toEqual(['(none)', 'Chrome']);
  });

  it('judges a client that never sends a device id by its history, not as a new device every time', async () => {
    const subject = `api-${randomUUID()}`;
    const API = 'python-requests/2.31.0';
    const first = factories.access({
      subject,
      deviceId: null,
      deviceSource: null,
      clientIp: LONDON,
      userAgent: API,
      time: at(0),
    });
    await send(first);
    // Its first call is new.
    expect(positive(await assessmentOf(first.eventId))).toContain('new_device');
    const usual = await assess(subject, {
      deviceId: null,
      deviceSource: null,
      clientIp: LONDON,
      userAgent: API,
    });
    expect(usual.level).toBe('low');
    const elsewhere = await assess(subject, {
      deviceId: null,
      deviceSource: null,
      clientIp: NEW_YORK_AREA,
      userAgent: CHROME,
    });
    expect(elsewhere.level).not.toBe('low');
    expect(elsewhere.signals.find((s) => s.name === 'device_context_changed')?.detail).toMatch(
      /^no device id \(the subject never sends one\): client Chrome on Windows, never seen/,
    );

    // A subject whose accesses carry a device id gets nothing for stripping it.
    const browser = `browser-${randomUUID()}`;
    const seen = factories.access({ subject: browser, deviceId: 'd-1', clientIp: LONDON, userAgent: API });
    await send(seen);
    await assessmentOf(seen.eventId);
    const stripped = await assess(browser, {
      deviceId: null,
      deviceSource: null,
      clientIp: LONDON,
      userAgent: API,
    });
    expect(stripped.signals.find((s) => s.name === 'new_device')?.detail).toBe(
      "request carried no device id; the subject's accesses carry one (1 device)",
    );
  });

  it('counts every access for velocity (allowed or not) and flags a burst', async () => {
    const subject = `burst-${randomUUID()}`;
    const events = [0, 1, 2, 3].map((i) =>
      factories.steppedUpAccess({ subject, time: at(i / 10), decision: i % 2 ? 'step_up' : 'allow' }),
    );
    await send(...events);
    const fourth = await assessmentOf(events[3]!.eventId);
    expect(positive(fourth)).toContain('velocity_requests');
    expect(fourth.signals.find((s) => s.name === 'velocity_requests')!.detail).toBe(
      '4 requests in 60 s (limit 3)',
    );
    const third = await assessmentOf(events[2]!.eventId);
    expect(positive(third)).not.toContain('velocity_requests');
    expect((await profileOf(subject)).recentAccesses).toHaveLength(4);
    // Only the allowed ones (past a step-up) are history.
    expect((await profileOf(subject)).history.accesses).toBe(2);
  });

  it('measures impossible travel by event time, from the last trusted place', async () => {
    const subject = `travel-${randomUUID()}`;
    const home = factories.access({ subject, deviceId: 'd-1', clientIp: LONDON, time: at(0) });
    const hourLater = factories.steppedUpAccess({
      subject,
      deviceId: 'd-1',
      clientIp: NEW_YORK_AREA,
      time: at(60),
    });
    const dayLater = factories.access({
      subject,
      deviceId: 'd-1',
      clientIp: NEW_YORK_AREA,
      time: at(60 * 24),
    });
    await send(home);
    await assessmentOf(home.eventId);
    await send(hourLater);
    const jump = await assessmentOf(hourLater.eventId);
    expect(positive(jump)).toContain('impossible_travel');
    expect(jump.signals.find((s) => s.name === 'impossible_travel')!.detail).toMatch(
      /^GB.* → US: at least \d+ km \(±\d+\/±\d+ km taken off\) in 1\.0 h/,
    );
    // The hour-later access passed a step-up: it is now the last trusted place.
    await send(dayLater);
    expect(positive(await assessmentOf(dayLater.eventId))).not.toContain('impossible_travel');
  });

  it('flags an address on the bad-IP list', async () => {
    const subject = `bad-${randomUUID()}`;
    const reply = await assess(subject, { clientIp: '198.51.100.20' });
    expect(reply.signals).toContainEqual({
      name: 'bad_ip',
      weight: 60,
      detail: `client IP 198.51.100.20 is in bad-IP range ${BAD}`,
    });
    expect(reply.level).toBe('critical');
  });

  it('keeps a bounded number of values per feature, and the population counts only those kept', async () => {
    const subject = `many-${randomUUID()}`;
    const neighbour = `neighbour-${randomUUID()}`;
    const sut = app.get(AssessmentService);
    await sut.onAccess(
      factories.steppedUpAccess({ subject: neighbour, clientIp: '90.200.1.9', time: at(0) }),
    );
    const sharedBy = async () => (await profileOf(neighbour)).features.network[0]!.subjects;
    expect(await sharedBy()).toBe(1);
    await sut.onAccess(factories.steppedUpAccess({ subject, clientIp: '90.200.1.1', time: at(1) }));
    expect(await sharedBy()).toBe(2);
    await sut.onAccess(factories.steppedUpAccess({ subject, clientIp: '90.200.2.1', time: at(2) }));
    await sut.onAccess(factories.steppedUpAccess({ subject, clientIp: '90.200.3.1', time: at(3) }));

    const profile = await profileOf(subject);
    // valuesPerFeature is 2: the least recently seen network went, and with it the subject's share of it.
    expect(profile.features.network.map((n) => n.value).sort()).toEqual(['90.200.2.0/24', '90.200.3.0/24']);
    expect(profile.features.block).toMatchObject([{ value: '90.200.0.0/16', seenCount: 3 }]);
    expect(profile.history.accesses).toBe(3);
    expect(await sharedBy()).toBe(1);
  });

  it('learns a batch exactly as one event at a time, a value dropped and learned again included', async () => {
    const sut = app.get(AssessmentService);
    const [one, batched] = [`one-${randomUUID()}`, `batched-${randomUUID()}`];
    const history = (subject: string) =>
      ['90.201.1.1', '90.201.2.1', '90.201.3.1', '90.201.1.9'].map((clientIp, i) =>
        factories.steppedUpAccess({ subject, clientIp, time: at(i + 1) }),
      );
    for (const e of history(one)) await sut.onAccess(e);
    const [a, b, c, again] = history(batched);
    await sut.onAccessBatch([a!]);
    await sut.onAccessBatch([b!]);
    // valuesPerFeature is 2: c pushes 90.201.1.0/24 out, and the next access brings it back, in one batch.
    await sut.onAccessBatch([c!, again!]);

    const networks = async (subject: string) =>
      (await profileOf(subject)).features.network
        .map((n) => `${n.value}:${n.seenCount}:${n.subjects}`)
        .sort();
    expect(await networks(batched)).toEqual(
      (await networks(one)).map((n) => n.replace(/:\d+$/, ':2')), // both subjects use each network now
    );
    expect(await networks(batched)).toEqual(['90.201.1.0/24:1:2', '90.201.3.0/24:1:2']);
  });

  it('forgets processed messages and challenge results past retention', async () => {
    const subject = `old-${randomUUID()}`;
    const event = factories.steppedUpAccess({ subject });
    await app.get(AssessmentService).onAccess(event);
    const retention = app.get(RetentionService);
    expect(await retention.sweep(Date.now())).toMatchObject({ messages: 0 });
    const swept = await retention.sweep(Date.now() + 15 * 86_400_000);
    expect(swept.messages).toBeGreaterThan(0);
    // Forgotten: a redelivery now would apply again (so keep the topic's retention shorter).
    await app.get(AssessmentService).onAccess(event);
    expect((await profileOf(subject)).history.accesses).toBe(2);
  });

  it('applies a policy change written to the config file while it runs, and refuses an invalid one', async () => {
    const subject = `live-${randomUUID()}`;
    const policy = app.get(RiskPolicyService);
    const before = await assess(subject);
    expect(before).toMatchObject({ score: 50, level: 'medium' });
    const edit = (from: RegExp, to: string) => {
      const text = readFileSync(configFile, 'utf8');
      const next = text.replace(from, to);
      expect(next).not.toBe(text);
      writeFileSync(`${configFile}.tmp`, next);
      renameSync(`${configFile}.tmp`, configFile);
    };
    const waitFor = async (what: string, check: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
    };

    const original = policy.current;
    edit(/newDevice: 50/, 'newDevice: 70');
    await waitFor('the new policy', () => policy.current !== original);
    const after = await assess(subject);
    expect(after).toMatchObject({ score: 70, level: 'high' });
    expect(after.modelVersion).not.toBe(before.modelVersion);

    const valid = policy.current;
    edit(/thresholds: \{ medium: 30, high: 60/, 'thresholds: { medium: 90, high: 60');
    await sleep(300);
    expect(policy.current).toBe(valid);
    expect((await assess(subject)).modelVersion).toBe(after.modelVersion);
  });
});
