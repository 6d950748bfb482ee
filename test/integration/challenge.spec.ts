// The challenge service through its real HTTP and message surfaces: enrolment, challenges opened by the
// gateway's request, verification with single-use codes and exact attempt counting under concurrency, and
// the stepped-up token the gateway's verifier accepts. On every database backend, over the in-process bus,
// and once over the Kafka protocol.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConsoleLogger } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import {
  REQUESTS,
  TOPICS,
  type ChallengeOutcome,
  type CreateChallengeReply,
  type CreateChallengeRequest,
  type DeadLetter,
  type DeviceStatus,
  type FactorChanged,
  type RiskAssessment,
} from '@stepgate/contracts';
import { TokenVerifier } from '@stepgate/identity';
import {
  inProcessBroker,
  InProcessMessageBus,
  KafkaMessageBus,
  RequestTimeoutError,
  type MessageBus,
} from '@stepgate/kafka';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { Secret, TOTP } from 'otpauth';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createChallengeApp } from '../../apps/challenge/src/challenge.bootstrap';
import { testKafkaBrokers } from '../support/env';
import { probeTopics, type Probe } from '../support/kafka-probe';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';

const MFA = 'urn:stepgate:acr:mfa';
const PERIOD_MS = 30_000;

describe.each(databaseBackends())('challenge service on %s over the in-process bus', (backend) => {
  let env: TestEnv;
  const risk = new Map<string, DeviceStatus | 'silent' | 'failing'>();
  const outcomes: ChallengeOutcome[] = [];
  const factorEvents: FactorChanged[] = [];
  const gateway: MessageBus = new InProcessMessageBus(inProcessBroker);
  const observer = `challenge-spec-${randomUUID()}`;

  beforeAll(async () => {
    inProcessBroker.handle(REQUESTS.assessRisk, observer, async (m) => {
      const request = JSON.parse(m.value) as { subject: string; deviceId: string; correlationId: string };
      const status = risk.get(request.deviceId) ?? 'seen';
      if (status === 'silent') return new Promise(() => undefined);
      if (status === 'failing') throw new Error('risk is broken');
      return assessment(request, status);
    });
    inProcessBroker.subscribe(
      TOPICS.challengeOutcome,
      observer,
      async (m) => void outcomes.push(JSON.parse(m.value) as ChallengeOutcome),
    );
    inProcessBroker.subscribe(
      TOPICS.factorChanged,
      observer,
      async (m) => void factorEvents.push(JSON.parse(m.value) as FactorChanged),
    );
    env = await startEnv({ backend, brokers: '', firstFactorEnrolment: 'seen-device' });
  });

  afterAll(async () => {
    await env?.stop();
    inProcessBroker.unsubscribeGroup(observer);
  });

  const openChallenge = (subject: string, over: Partial<CreateChallengeRequest> = {}) =>
    gateway.request(REQUESTS.createChallenge, challengeRequest(subject, over), 5000);

  it('dead-letters a malformed challenge request instead of opening anything', async () => {
    const deadLetters: DeadLetter[] = [];
    inProcessBroker.subscribe(
      TOPICS.deadLetter,
      observer,
      async (m) => void deadLetters.push(JSON.parse(m.value) as DeadLetter),
    );
    const malformed = { ...challengeRequest('dave'), maxAgeSeconds: -1, extra: true };
    const reply = await inProcessBroker.request(
      { topic: REQUESTS.createChallenge, key: null, value: JSON.stringify(malformed), headers: {} },
      5000,
    );
    expect(reply).toMatchObject({ error: 'invalid_message' });
    await until(() => deadLetters.find((d) => d.topic === REQUESTS.createChallenge));
    expect(deadLetters[0]).toMatchObject({
      consumer: 'stepgate-challenge',
      reason: expect.stringMatching(/maxAgeSeconds/),
    });
  });

  it('enrols and activates a TOTP factor, audited and evented', async () => {
    const subject = `alice-${randomUUID()}`;
    const enrolled = await env.call('POST', '/.stepgate/factors/totp', { subject, device: 'laptop' });
    expect(enrolled.status).toBe(201);
    expect(enrolled.headers.get('cache-control')).toBe('no-store');
    const { id, secret, otpauth_uri } = enrolled.json as { id: string; secret: string; otpauth_uri: string };
    expect(otpauth_uri).toMatch(/^otpauth:\/\/totp\/StepGate:/);
    expect(otpauth_uri).toContain(`secret=${secret}`);

    const wrong = await env.call('POST', `/.stepgate/factors/totp/${id}/activate`, {
      subject,
      device: 'laptop',
      body: { code: otherCode(secret, Date.now()) },
    });
    expect(wrong).toMatchObject({ status: 400, json: { error: 'invalid_code' } });
    const elsewhere = await env.call('POST', `/.stepgate/factors/totp/${id}/activate`, {
      subject,
      device: 'phone',
      body: { code: codeAt(secret, Date.now()) },
    });
    expect(elsewhere).toMatchObject({ status: 403, json: { error: 'device_mismatch' } });
    const someoneElse = await env.call('POST', `/.stepgate/factors/totp/${id}/activate`, {
      subject: `mallory-${randomUUID()}`,
      device: 'laptop',
      body: { code: codeAt(secret, Date.now()) },
    });
    expect(someoneElse).toMatchObject({ status: 404, json: { error: 'factor_not_found' } });

    const activated = await env.call('POST', `/.stepgate/factors/totp/${id}/activate`, {
      subject,
      device: 'laptop',
      body: { code: codeAt(secret, Date.now()) },
    });
    expect(activated).toMatchObject({ status: 200, json: { id, status: 'active' } });

    const audit =
      await env.rows`SELECT change, authorisation FROM challenge_factor_audit WHERE factor_id = ${id}`;
    expect(audit).toEqual(
      expect.arrayContaining([
        { change: 'enrolled', authorisation: 'first_factor:seen-device' },
        { change: 'activated', authorisation: 'first_factor:seen-device' },
      ]),
    );
    await until(() => (factorEvents.filter((e) => e.factorId === id).length === 2 ? true : undefined));
    expect(factorEvents.filter((e) => e.factorId === id).map((e) => e.change)).toEqual([
      'enrolled',
      'activated',
    ]);

    // The seed is sealed at rest: not in the row in any readable form.
    const [row] = await env.rows<{ secret_ciphertext: string }>`
      SELECT secret_ciphertext FROM challenge_totp_factors WHERE id = ${id}`;
    expect(row!.secret_ciphertext).not.toContain(secret);
    expect(
      Buffer.from(row!.secret_ciphertext, 'base64url').includes(Buffer.from(Secret.fromBase32(secret).bytes)),
    ).toBe(false);
  });

  it('lets a first factor be enrolled only from a device risk knows, and fails closed without risk', async () => {
    const subject = `bob-${randomUUID()}`;
    risk.set('new-laptop', 'unknown').set('quiet-laptop', 'silent').set('broken-laptop', 'failing');
    expect(
      await env.call('POST', '/.stepgate/factors/totp', { subject, device: 'new-laptop' }),
    ).toMatchObject({
      status: 403,
      json: { error: 'enrolment_not_allowed' },
    });
    for (const device of ['quiet-laptop', 'broken-laptop']) {
      const refused = await env.call('POST', '/.stepgate/factors/totp', { subject, device });
      expect(refused).toMatchObject({ status: 503, json: { error: 'risk_unavailable' } });
      expect(refused.json.message).toMatch(/risk service/);
    }
  });

  it('needs a fresh stepped-up token from the same device to add a second factor', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const plain = await env.call('POST', '/.stepgate/factors/totp', { subject, device: 'laptop' });
    expect(plain).toMatchObject({ status: 403, json: { error: 'step_up_required', acr: MFA } });

    const steppedUp = await passChallenge(env, subject, 'laptop', secret, t0);
    const otherDevice = await env.call('POST', '/.stepgate/factors/totp', {
      token: steppedUp,
      device: 'phone',
    });
    expect(otherDevice).toMatchObject({ status: 403, json: { error: 'step_up_required' } });
    const second = await env.call('POST', '/.stepgate/factors/totp', { token: steppedUp, device: 'laptop' });
    expect(second.status).toBe(201);
  });

  it('opens challenges with the methods policy allows and the subject enrolled', async () => {
    const newcomer = await openChallenge(`carol-${randomUUID()}`);
    expect(newcomer).toMatchObject({ status: 'enrolment_required' });

    const { subject } = await env.enrolActive('laptop');
    expect(
      await openChallenge(subject, { risk: { score: 95, level: 'critical', signals: [] } }),
    ).toMatchObject({
      status: 'denied',
    });
    expect(await openChallenge(subject, { deviceId: null })).toMatchObject({ status: 'denied' });
    // TOTP is phishable: it cannot attest a phishing-resistant level.
    expect(await openChallenge(subject, { requiredAcr: 'urn:stepgate:acr:phr' })).toMatchObject({
      status: 'denied',
    });

    const open = await openChallenge(subject);
    expect(open).toMatchObject({ status: 'open', methods: ['totp'] });
    const { challengeId, expiresAt } = open as Extract<CreateChallengeReply, { status: 'open' }>;
    expect(Buffer.from(challengeId, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
  });

  it('counts wrong codes and returns a stepped-up token for the right one', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    const verify = (code: string) =>
      env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
        subject,
        device: 'laptop',
        body: { method: 'totp', code },
      });

    expect(await verify(otherCode(secret, t0 + PERIOD_MS))).toMatchObject({
      status: 401,
      json: { error: 'invalid_code', attempts_left: 4 },
    });
    expect(await verify('12')).toMatchObject({ status: 401, json: { attempts_left: 3 } });

    const passed = await verify(codeAt(secret, t0 + PERIOD_MS));
    expect(passed.status).toBe(200);
    expect(passed.headers.get('cache-control')).toBe('no-store');
    expect(passed.json).toMatchObject({ token_type: 'Bearer', acr: MFA, expires_in: 300 });

    const verified = await env.verifier.verify(passed.json.access_token as string);
    expect(verified).toMatchObject({ kind: 'stepup', subject, acr: MFA, deviceId: 'laptop', amr: ['otp'] });
    expect(verified.sessionId).toBe('session-1');
    expect(Math.abs(verified.authTime! - Date.now() / 1000)).toBeLessThan(60);

    // One challenge yields one token.
    expect(await verify(codeAt(secret, t0 + PERIOD_MS))).toMatchObject({
      status: 410,
      json: { error: 'challenge_completed' },
    });

    await until(() =>
      outcomes.some((o) => o.challengeId === challengeId && o.result === 'passed') ? true : undefined,
    );
    expect(
      outcomes.filter((o) => o.challengeId === challengeId).map((o) => [o.result, o.attemptsLeft]),
    ).toEqual([
      ['failed', 4],
      ['failed', 3],
      ['passed', 2],
    ]);
  });

  it('accepts a code once, also when it arrives concurrently on two challenges', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const code = codeAt(secret, t0 + PERIOD_MS);

    const first = await openOrFail(gateway, subject);
    const second = await openOrFail(gateway, subject);
    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        env.call('POST', `/.stepgate/challenges/${(i % 2 ? first : second).challengeId}/verify`, {
          subject,
          device: 'laptop',
          body: { method: 'totp', code },
        }),
      ),
    );
    expect(attempts.filter((a) => a.status === 200)).toHaveLength(1);
    // The rest were wrong codes by then, or arrived at the challenge that had just been passed.
    const refused = attempts.filter((a) => a.status !== 200);
    expect(
      refused.every((a) => a.json.error === 'invalid_code' || a.json.error === 'challenge_completed'),
    ).toBe(true);

    // And later, on a fresh challenge, still no.
    const third = await openOrFail(gateway, subject);
    const replay = await env.call('POST', `/.stepgate/challenges/${third.challengeId}/verify`, {
      subject,
      device: 'laptop',
      body: { method: 'totp', code },
    });
    expect(replay).toMatchObject({ status: 401, json: { error: 'invalid_code' } });
  });

  it('counts exactly maxAttempts of 20 parallel wrong codes, and locks the rest', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    const wrong = otherCode(secret, t0);
    const attempts = await Promise.all(
      Array.from({ length: 20 }, () =>
        env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
          subject,
          device: 'laptop',
          body: { method: 'totp', code: wrong },
        }),
      ),
    );
    const counted = attempts.filter((a) => a.status === 401);
    expect(counted).toHaveLength(5);
    expect(counted.map((a) => a.json.attempts_left).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(attempts.filter((a) => a.status === 429).every((a) => a.json.error === 'challenge_locked')).toBe(
      true,
    );
    expect(attempts.filter((a) => a.status === 429)).toHaveLength(15);

    // Locked for good: even the right code no longer passes it.
    const late = await env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
      subject,
      device: 'laptop',
      body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
    });
    expect(late).toMatchObject({ status: 429, json: { error: 'challenge_locked' } });
    const [row] = await env.rows<{ attempts_left: number; failures: number; status: string }>`
      SELECT attempts_left, failures, status FROM challenge_challenges WHERE id = ${challengeId}`;
    expect(row).toEqual({ attempts_left: 0, failures: 5, status: 'locked' });
  });

  it('locks a subject out after too many wrong codes across challenges', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const challenges = [
      await openOrFail(gateway, subject),
      await openOrFail(gateway, subject),
      await openOrFail(gateway, subject),
    ];
    const wrong = otherCode(secret, t0);
    for (const { challengeId } of challenges.slice(0, 2)) {
      for (let i = 0; i < 5; i++) {
        await env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
          subject,
          device: 'laptop',
          body: { method: 'totp', code: wrong },
        });
      }
    }
    const third = await env.call('POST', `/.stepgate/challenges/${challenges[2]!.challengeId}/verify`, {
      subject,
      device: 'laptop',
      body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
    });
    expect(third).toMatchObject({ status: 429, json: { error: 'challenge_locked' } });
    expect(await openChallenge(subject)).toMatchObject({ status: 'denied' });
  });

  it('lets only the subject, on the device and session of the challenge, complete it', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    const body = { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) };
    const path = `/.stepgate/challenges/${challengeId}/verify`;
    expect(await env.call('POST', path, { subject, device: 'phone', body })).toMatchObject({
      status: 403,
      json: { error: 'device_mismatch' },
    });
    expect(
      await env.call('POST', path, { subject: `eve-${randomUUID()}`, device: 'laptop', body }),
    ).toMatchObject({
      status: 403,
      json: { error: 'subject_mismatch' },
    });
    expect(
      await env.call('POST', path, { subject, sessionId: 'session-2', device: 'laptop', body }),
    ).toMatchObject({
      status: 403,
      json: { error: 'session_mismatch' },
    });
    // None of that used an attempt.
    expect(await env.call('POST', path, { subject, device: 'laptop', body })).toMatchObject({ status: 200 });
  });

  it('refuses an expired challenge with 410', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    await env.rows`UPDATE challenge_challenges SET expires_at = ${Date.now() - 1000} WHERE id = ${challengeId}`;
    const expired = await env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
      subject,
      device: 'laptop',
      body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
    });
    expect(expired).toMatchObject({ status: 410, json: { error: 'challenge_expired' } });
    await until(() =>
      outcomes.some((o) => o.challengeId === challengeId && o.result === 'expired') ? true : undefined,
    );
    expect(
      (
        await env.call('POST', `/.stepgate/challenges/${randomUUID()}/verify`, {
          subject,
          device: 'laptop',
          body: { method: 'totp', code: '123456' },
        })
      ).status,
    ).toBe(404);
  });

  it('answers malformed requests with 4xx and a reason, never 500', async () => {
    const { subject } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    const path = `/.stepgate/challenges/${challengeId}/verify`;
    const token = await env.accessToken(subject);
    const raw = (body: string, headers: Record<string, string> = {}) =>
      fetch(env.url + path, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'x-device-id': 'laptop',
          'content-type': 'application/json',
          ...headers,
        },
        body,
      });

    const badJson = await raw('{"method": "totp", "code": ');
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: 'invalid_request' });
    const huge = await raw(JSON.stringify({ method: 'totp', code: '1'.repeat(100_000) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: 'payload_too_large' });
    expect(await env.call('GET', '/.stepgate/nothing-here')).toMatchObject({
      status: 404,
      json: { error: 'not_found' },
    });
    for (const body of [
      {},
      { method: 'totp' },
      { method: 'sms', code: '123456' },
      { method: 'totp', code: 123456 },
      [],
    ]) {
      const res = await env.call('POST', path, { subject, device: 'laptop', body });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: 'invalid_request' });
      expect(String(res.json.message).length).toBeGreaterThan(0);
    }
    expect((await raw('', { 'content-type': 'text/plain' })).status).toBeGreaterThanOrEqual(400);
    expect(await env.call('POST', path, { device: 'laptop', body: {} })).toMatchObject({
      status: 401,
      json: { error: 'unauthorized' },
    });
    expect(
      await env.call('POST', path, { token: `${token.slice(0, -3)}AAA`, device: 'laptop', body: {} }),
    ).toMatchObject({
      status: 401,
    });
    expect(await env.call('POST', path, { subject, body: { method: 'totp', code: '123456' } })).toMatchObject(
      {
        status: 400,
        json: { error: 'device_id_required' },
      },
    );
    // Nothing above counted as an attempt.
    const [row] = await env.rows<{ attempts_left: number }>`
      SELECT attempts_left FROM challenge_challenges WHERE id = ${challengeId}`;
    expect(row!.attempts_left).toBe(5);
  });

  it('serves the JWKS, health and metrics', async () => {
    const jwks = await env.call('GET', '/.stepgate/challenge/jwks.json');
    expect(jwks.status).toBe(200);
    const [key] = jwks.json.keys as Record<string, string>[];
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(key).not.toHaveProperty('d');
    expect(await env.call('GET', '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    const metrics = await fetch(`${env.url}/metrics`);
    expect(await metrics.text()).toContain('stepgate_challenge_verifications_total');
  });

  it('keeps the signing key across restarts, sealed in the database', async () => {
    const before = (await env.call('GET', '/.stepgate/challenge/jwks.json')).json;
    await env.restart();
    expect((await env.call('GET', '/.stepgate/challenge/jwks.json')).json).toEqual(before);
    const [row] = await env.rows<{ private_jwk_ciphertext: string }>`
      SELECT private_jwk_ciphertext FROM challenge_signing_keys`;
    expect(row!.private_jwk_ciphertext).not.toMatch(/"d"/);
    if (backend === 'sqlite')
      expect(statSync(join(env.runtime.dataDir, 'factor-key.json')).mode & 0o777).toBe(0o600);
  });
});

describe('challenge service over Kafka', () => {
  let env: TestEnv;
  let gateway: KafkaMessageBus;
  let probe: Probe;

  beforeAll(async () => {
    const brokers = testKafkaBrokers();
    probe = await probeTopics(brokers, [TOPICS.challengeOutcome, TOPICS.factorChanged]);
    env = await startEnv({ backend: 'sqlite', brokers, firstFactorEnrolment: 'any-device' });
    gateway = new KafkaMessageBus(
      {
        brokers: brokers.split(','),
        clientId: 'challenge-spec-gateway',
        groupId: `challenge-spec-${randomUUID()}`,
        maxWaitMs: 25,
        idempotent: false,
      },
      [REQUESTS.createChallenge],
    );
    await gateway.connect();
  });

  afterAll(async () => {
    await gateway?.onApplicationShutdown();
    await env?.stop();
    await probe?.stop();
  });

  it('enrols, opens a challenge on request, verifies, and publishes what happened', async () => {
    const { subject, secret, t0, factorId } = await env.enrolActive('laptop');
    // The first request may wait for the consumer group to form; retry until the service answers.
    const reply = await retryOnTimeout(() =>
      gateway.request(REQUESTS.createChallenge, challengeRequest(subject), 5000),
    );
    expect(reply.status).toBe('open');
    const { challengeId } = reply as Extract<CreateChallengeReply, { status: 'open' }>;
    const verify = (code: string) =>
      env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
        subject,
        device: 'laptop',
        body: { method: 'totp', code },
      });
    expect((await verify(otherCode(secret, t0 + PERIOD_MS))).status).toBe(401);
    const passed = await verify(codeAt(secret, t0 + PERIOD_MS));
    expect(passed.status).toBe(200);
    expect(await env.verifier.verify(passed.json.access_token as string)).toMatchObject({
      kind: 'stepup',
      deviceId: 'laptop',
    });

    await probe.waitFor<FactorChanged>(
      (e, topic) => topic === TOPICS.factorChanged && e.factorId === factorId && e.change === 'activated',
    );
    const enrolled = await probe.waitFor<FactorChanged>(
      (e, topic) => topic === TOPICS.factorChanged && e.factorId === factorId && e.change === 'enrolled',
    );
    expect(enrolled).toMatchObject({ subject, deviceId: 'laptop', method: 'totp' });
    const failed = await probe.waitFor<ChallengeOutcome>(
      (o, topic) =>
        topic === TOPICS.challengeOutcome && o.challengeId === challengeId && o.result === 'failed',
    );
    expect(failed).toMatchObject({ subject, deviceId: 'laptop', method: 'totp', attemptsLeft: 4 });
    await probe.waitFor<ChallengeOutcome>(
      (o, topic) =>
        topic === TOPICS.challengeOutcome && o.challengeId === challengeId && o.result === 'passed',
    );
    const keyed = probe.messages.filter(
      (m) => m.topic === TOPICS.challengeOutcome && m.value.includes(challengeId),
    );
    expect(keyed.every((m) => m.key === subject)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Harness: a stand-in OIDC issuer, the service on a temp config, and HTTP helpers.

interface CallOptions {
  subject?: string;
  sessionId?: string;
  token?: string;
  device?: string;
  body?: unknown;
}

interface CallResult {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

interface TestEnv {
  url: string;
  runtime: RuntimeEnv;
  verifier: TokenVerifier;
  accessToken(subject: string, sessionId?: string): Promise<string>;
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /** A subject with an active TOTP factor, activated with the code of step t0. */
  enrolActive(device: string): Promise<{ subject: string; secret: string; t0: number; factorId: string }>;
  /** Raw SQL on the service's database, values bound as parameters. */
  rows<T = Record<string, unknown>>(sql: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startEnv(options: {
  backend: 'sqlite' | 'postgres';
  brokers: string;
  firstFactorEnrolment: 'seen-device' | 'any-device';
}): Promise<TestEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-challenge-'));
  const issuer = await startIssuer();
  const database: TestDatabase | undefined =
    options.backend === 'postgres' ? await createTestDatabase() : undefined;
  const configFile = join(dir, 'stepgate.yaml');
  writeFileSync(configFile, testConfig(issuer.url, options.firstFactorEnrolment));
  const runtime = readRuntimeEnv({
    STEPGATE_CONFIG: configFile,
    STEPGATE_DATA_DIR: join(dir, 'data'),
    DATABASE_URL: database?.url,
    KAFKA_BROKERS: options.brokers,
    KAFKA_MAX_WAIT_MS: '25',
    KAFKA_IDEMPOTENT: 'false',
    STEPGATE_INSTANCE_ID: 'challenge-spec',
  });
  const logger = new ConsoleLogger('challenge', { logLevels: ['error'] });
  let app = await createChallengeApp(runtime, logger);
  let url = await app.getUrl();
  const verifier = new TokenVerifier(
    [{ issuer: issuer.url, jwksUri: `${issuer.url}/jwks.json`, audience: 'stepgate', algorithms: ['ES256'] }],
    { issuer: 'urn:stepgate:challenge', audience: 'stepgate', jwks: `${url}/.stepgate/challenge/jwks.json` },
    30,
  );

  const env: TestEnv = {
    get url() {
      return url;
    },
    runtime,
    verifier,
    accessToken: (subject, sessionId = 'session-1') => issuer.sign(subject, sessionId),
    async call(method, path, o = {}) {
      const token =
        o.token ?? (o.subject ? await issuer.sign(o.subject, o.sessionId ?? 'session-1') : undefined);
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.device) headers['x-device-id'] = o.device;
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
      });
      const text = await res.text();
      return {
        status: res.status,
        headers: res.headers,
        json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    },
    async enrolActive(device) {
      const subject = `user-${randomUUID()}`;
      const enrolled = await env.call('POST', '/.stepgate/factors/totp', { subject, device });
      expect(enrolled.status).toBe(201);
      const { id, secret } = enrolled.json as { id: string; secret: string };
      const t0 = Date.now();
      const activated = await env.call('POST', `/.stepgate/factors/totp/${id}/activate`, {
        subject,
        device,
        body: { code: codeAt(secret, t0) },
      });
      expect(activated.status).toBe(200);
      return { subject, secret, t0, factorId: id };
    },
    rows: <T>(sql: TemplateStringsArray, ...values: unknown[]) =>
      app.get<DataSource>(getDataSourceToken('challenge')).sql<T[]>(sql, ...values),
    async restart() {
      await app.close();
      app = await createChallengeApp(runtime, logger);
      url = await app.getUrl();
    },
    async stop() {
      await app.close();
      await issuer.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** The repository's own config file, with the issuer pointed at the stand-in and a few test settings. */
function testConfig(issuerUrl: string, firstFactorEnrolment: string): string {
  const config = parse(readFileSync(resolve(__dirname, '../../config/stepgate.yaml'), 'utf8')) as {
    gateway: { issuers: { issuer: string; jwksUri: string }[] };
    challenge: Record<string, unknown>;
  };
  config.gateway.issuers = [
    { ...config.gateway.issuers[0]!, issuer: issuerUrl, jwksUri: `${issuerUrl}/jwks.json` },
  ];
  Object.assign(config.challenge, {
    http: { host: '127.0.0.1', port: 0 },
    firstFactorEnrolment,
    enrolment: { riskTimeoutMs: 200 },
    subjectLockout: { maxFailures: 10, windowSeconds: 900 },
  });
  return stringify(config);
}

interface Issuer {
  url: string;
  sign(subject: string, sessionId: string): Promise<string>;
  close(): Promise<void>;
}

/** A minimal OIDC issuer: an ES256 key, its JWKS over HTTP, and access tokens signed with it. */
async function startIssuer(): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'test-issuer', alg: 'ES256', use: 'sig' }] };
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/jwks.json' ? jwks : {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    sign: (subject, sessionId) => accessToken(privateKey, url, subject, sessionId),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function accessToken(key: CryptoKey, issuer: string, subject: string, sessionId: string): Promise<string> {
  return new SignJWT({ sid: sessionId })
    .setProtectedHeader({ alg: 'ES256', kid: 'test-issuer', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience('stepgate')
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key);
}

/** Passes a fresh challenge with the code of step t0+1 and returns the stepped-up token. */
async function passChallenge(
  env: TestEnv,
  subject: string,
  device: string,
  secret: string,
  t0: number,
): Promise<string> {
  const gateway = new InProcessMessageBus(inProcessBroker);
  const { challengeId } = await openOrFail(gateway, subject, { deviceId: device });
  const passed = await env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
    subject,
    device,
    body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
  });
  expect(passed.status).toBe(200);
  return passed.json.access_token as string;
}

async function openOrFail(bus: MessageBus, subject: string, over: Partial<CreateChallengeRequest> = {}) {
  const reply = await bus.request(REQUESTS.createChallenge, challengeRequest(subject, over), 5000);
  if (reply.status !== 'open') throw new Error(`challenge not opened: ${JSON.stringify(reply)}`);
  return reply;
}

function challengeRequest(
  subject: string,
  over: Partial<CreateChallengeRequest> = {},
): CreateChallengeRequest {
  return {
    correlationId: randomUUID(),
    subject,
    sessionId: 'session-1',
    deviceId: 'laptop',
    route: 'payments',
    requiredAcr: MFA,
    maxAgeSeconds: 300,
    risk: {
      score: 45,
      level: 'medium',
      signals: [{ name: 'new_network', weight: 15, detail: 'first time from this network' }],
    },
    ...over,
  };
}

function assessment(
  request: { subject: string; deviceId: string; correlationId: string },
  deviceStatus: DeviceStatus,
): RiskAssessment {
  return {
    assessmentId: randomUUID(),
    time: new Date().toISOString(),
    correlationId: request.correlationId,
    causationId: null,
    subject: request.subject,
    deviceId: request.deviceId,
    score: 10,
    level: 'low',
    signals: [],
    deviceStatus,
    modelVersion: 'fake',
  };
}

function totp(secret: string): TOTP {
  return new TOTP({
    secret: Secret.fromBase32(secret),
    digits: 6,
    period: PERIOD_MS / 1000,
    algorithm: 'SHA1',
  });
}

const codeAt = (secret: string, timestamp: number): string => totp(secret).generate({ timestamp });

/** A six-digit code that is valid at none of the steps around `timestamp`. */
function otherCode(secret: string, timestamp: number): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => codeAt(secret, timestamp + d * PERIOD_MS)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

async function until<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function retryOnTimeout<T>(fn: () => Promise<T>, tries = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RequestTimeoutError) || i >= tries) throw err;
    }
  }
}
