// Every contract round-trips through the bus (Kafka protocol and in-process) and a malformed message is
// dead-lettered with its reason while the consumer carries on.
import { randomUUID } from 'node:crypto';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  REQUESTS,
  TOPICS,
  type AssessRiskRequest,
  type DeadLetter,
  type EventTopic,
  type RiskAssessment,
} from '@stepgate/contracts';
import {
  inProcessBroker,
  MessageBus,
  MessagingModule,
  messagingTransport,
  RequestTimeoutError,
  ValidPayload,
  type MessagingOptions,
} from '@stepgate/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafkaBrokers } from '../support/env';
import { factories } from '../support/factories';
import { kafkaClient, probeTopics, type Probe } from '../support/kafka-probe';

const received: { topic: string; value: unknown }[] = [];

@Controller()
class RecordingController {
  @EventPattern(TOPICS.access)
  access(@ValidPayload(TOPICS.access) v: unknown): void {
    received.push({ topic: TOPICS.access, value: v });
  }
  @EventPattern(TOPICS.riskAssessment)
  assessment(@ValidPayload(TOPICS.riskAssessment) v: unknown): void {
    received.push({ topic: TOPICS.riskAssessment, value: v });
  }
  @EventPattern(TOPICS.decisionChange)
  change(@ValidPayload(TOPICS.decisionChange) v: unknown): void {
    received.push({ topic: TOPICS.decisionChange, value: v });
  }
  @EventPattern(TOPICS.challengeOutcome)
  outcome(@ValidPayload(TOPICS.challengeOutcome) v: unknown): void {
    received.push({ topic: TOPICS.challengeOutcome, value: v });
  }
  @EventPattern(TOPICS.factorChanged)
  factor(@ValidPayload(TOPICS.factorChanged) v: unknown): void {
    received.push({ topic: TOPICS.factorChanged, value: v });
  }
  @MessagePattern(REQUESTS.assessRisk)
  assess(@ValidPayload(REQUESTS.assessRisk) req: AssessRiskRequest): RiskAssessment {
    return factories.assessment({
      subject: req.subject,
      deviceId: req.deviceId,
      correlationId: req.correlationId,
    });
  }
}

async function startApp(options: MessagingOptions): Promise<NestFastifyApplication> {
  @Module({ imports: [MessagingModule.forRoot(options)], controllers: [RecordingController] })
  class TestModule {}
  const app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), {
    logger: ['error'],
  });
  app.connectMicroservice(messagingTransport(options), { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.init();
  return app;
}

async function until<T>(fn: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(25);
  }
}

const samples = (): [EventTopic, { correlationId: string }][] => [
  [TOPICS.access, factories.access()],
  [TOPICS.riskAssessment, factories.assessment()],
  [TOPICS.decisionChange, factories.decisionChange()],
  [TOPICS.challengeOutcome, factories.outcome()],
  [TOPICS.factorChanged, factories.factorChanged()],
];

describe.each(['kafka', 'in-process'] as const)('contracts over %s', (mode) => {
  let app: NestFastifyApplication;
  let bus: MessageBus;
  let probe: Probe | undefined;
  const group = `contracts-${randomUUID()}`;

  beforeAll(async () => {
    const brokers = mode === 'kafka' ? testKafkaBrokers().split(',') : [];
    if (mode === 'kafka')
      probe = await probeTopics(brokers.join(','), [TOPICS.deadLetter, ...Object.values(TOPICS)]);
    app = await startApp({
      clientId: 'contracts-test',
      groupId: group,
      requests: [REQUESTS.assessRisk, REQUESTS.createChallenge],
      brokers,
      maxWaitMs: 25,
      idempotent: false,
      fromBeginning: false,
    });
    bus = app.get(MessageBus);
  });

  afterAll(async () => {
    await app?.close();
    await probe?.stop();
  });

  it('round-trips every event contract', async () => {
    for (const [topic, value] of samples()) {
      // Consumer group joins take a moment on a fresh group: publish until the first one arrives.
      await bus.publish(topic, value as never);
      const got = await until(() =>
        received.find((r) => (r.value as { correlationId?: string }).correlationId === value.correlationId),
      );
      expect(got.topic).toBe(topic);
      expect(got.value).toEqual(value);
    }
  });

  it('publishes a batch in one go, each message keyed and in order', async () => {
    const subject = `batch-${randomUUID()}`;
    const batch = [1, 2, 3].map((n) => factories.access({ subject, path: `/api/reports/${n}` }));
    await bus.publishBatch(TOPICS.access, batch);
    const got = await until(() => {
      const mine = received.filter((r) => (r.value as { subject?: string }).subject === subject);
      return mine.length === 3 ? mine : undefined;
    });
    expect(got.map((r) => (r.value as { path: string }).path)).toEqual([
      '/api/reports/1',
      '/api/reports/2',
      '/api/reports/3',
    ]);
    await expect(bus.publishBatch(TOPICS.access, [{ ...batch[0]!, clientIp: 'x' }])).rejects.toThrow(
      /clientIp/,
    );
  });

  it('answers a request with a reply that passes its contract', async () => {
    const req = factories.assessRequest({ subject: `s-${randomUUID()}` });
    const reply = await bus.request(REQUESTS.assessRisk, req, 15_000);
    expect(reply.subject).toBe(req.subject);
    expect(reply.correlationId).toBe(req.correlationId);
  });

  it('refuses to publish a value that breaks its contract', async () => {
    await expect(
      bus.publish(TOPICS.access, { ...factories.access(), clientIp: 'not-an-ip' }),
    ).rejects.toThrow(/clientIp/);
  });

  it('dead-letters malformed messages with a reason and keeps consuming', async () => {
    const marker = randomUUID();
    const next = factories.outcome({ subject: 'x' });
    const deadLetters: DeadLetter[] = [];
    const raw = [
      `not json ${marker}`,
      JSON.stringify({ ...factories.outcome(), result: 'maybe', correlationId: marker }),
      JSON.stringify(next),
    ];
    if (mode === 'kafka') {
      const producer = kafkaClient(testKafkaBrokers()).producer({ allowAutoTopicCreation: true });
      await producer.connect();
      await producer.send({
        topic: TOPICS.challengeOutcome,
        messages: raw.map((value) => ({ key: 'x', value })),
      });
      await producer.disconnect();
    } else {
      inProcessBroker.subscribe(TOPICS.deadLetter, `capture-${marker}`, async (m) => {
        deadLetters.push(JSON.parse(m.value) as DeadLetter);
      });
      for (const value of raw)
        inProcessBroker.publish({ topic: TOPICS.challengeOutcome, key: 'x', value, headers: {} });
    }
    const find = (pred: (d: DeadLetter) => boolean) =>
      mode === 'kafka'
        ? probe!.waitFor<DeadLetter>((d, t) => t === TOPICS.deadLetter && pred(d))
        : until(() => deadLetters.find(pred));

    const notJson = await find((d) => d.value.includes(`not json ${marker}`));
    expect(notJson.reason).toMatch(/not a JSON object/);
    expect(notJson.topic).toBe(TOPICS.challengeOutcome);
    expect(notJson.consumer).toBe(group);
    expect(notJson.key).toBe('x');
    const badEnum = await find((d) => d.value.includes(marker) && d.reason.includes('result'));
    expect(badEnum.offset).not.toBeNull();
    await until(() =>
      received.find((r) => (r.value as { correlationId?: string }).correlationId === next.correlationId),
    );
  });

  it('times out a request nobody answers', async () => {
    const request = {
      correlationId: randomUUID(),
      subject: 'a',
      sessionId: null,
      deviceId: null,
      route: 'r',
      requiredAcr: 'x',
      maxAgeSeconds: 60,
      risk: { score: 1, level: 'low' as const, signals: [] },
    };
    await expect(bus.request(REQUESTS.createChallenge, request, 300)).rejects.toBeInstanceOf(
      RequestTimeoutError,
    );
  });
});

describe('RequestTimeoutError', () => {
  it('names the pattern and the budget', () => {
    expect(new RequestTimeoutError('p', 5).message).toBe('no reply to p within 5 ms');
  });
});
