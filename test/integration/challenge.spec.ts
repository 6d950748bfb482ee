// The challenge service through its real HTTP and message surfaces: enrolment, challenges opened by the
// gateway's request, verification with single-use codes and exact attempt counting under concurrency, and
// the stepped-up token the gateway's verifier accepts. On every database backend, over the in-process bus,
// and once over the Kafka protocol.
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { getDataSourceToken } from '@nestjs/typeorm';
import {
  REQUESTS,
  TOPICS,
  type ChallengeOutcome,
  type CreateChallengeReply,
  type CreateChallengeRequest,
  type DeadLetter,
  type DeviceStatus,
  type FactorChanged,
} from '@stepgate/contracts';
import { sessionBindingOf, STEP_UP_TOKEN_TYPE } from '@stepgate/identity';
import { inProcessBroker, InProcessMessageBus, KafkaMessageBus, type MessageBus } from '@stepgate/kafka';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { Secret } from 'otpauth';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accessToken,
  assessment,
  challengeRequest,
  codeAt,
  MFA,
  openOrFail,
  otherCode,
  passChallenge as passWith,
  PERIOD_MS,
  retryOnTimeout,
  startEnv,
  until,
  type TestEnv,
} from '../support/challenge-env';
import { testKafkaBrokers } from '../support/env';
import { probeTopics, type Probe } from '../support/kafka-probe';
import { databaseBackends } from '../support/postgres';

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

    const steppedUp = await passWith(env, gateway, subject, 'laptop', secret, t0);
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
    // TOTP is phishable: it cannot attest a phishing-resistant level, and high risk is passkey-only. Never a
    // silent downgrade: the subject is told what to enrol.
    expect(await openChallenge(subject, { requiredAcr: 'urn:stepgate:acr:phr' })).toEqual({
      status: 'enrolment_required',
      reason: 'add a passkey (webauthn) to continue',
      methods: ['webauthn'],
    });
    expect(await openChallenge(subject, { risk: { score: 70, level: 'high', signals: [] } })).toMatchObject({
      status: 'enrolment_required',
      reason: expect.stringMatching(/passkey/),
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
    // (or, once the subject's free failures are spent, were told to wait).
    expect(
      refused.every((a) =>
        ['invalid_code', 'challenge_completed', 'too_many_attempts'].includes(a.json.error as string),
      ),
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

  it('counts exactly maxAttempts of 50 parallel wrong codes, on the challenge and on the subject', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    const wrong = otherCode(secret, t0);
    const attempts = await Promise.all(
      Array.from({ length: 50 }, () =>
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
    const refused = attempts.filter((a) => a.status !== 401);
    expect(refused).toHaveLength(45);
    expect(
      refused.every(
        (a) => a.status === 429 && ['challenge_locked', 'too_many_attempts'].includes(a.json.error as string),
      ),
    ).toBe(true);

    // Locked for good: even the right code no longer passes it.
    await env.rows`UPDATE challenge_subject_guards SET blocked_until = 0 WHERE subject = ${subject}`;
    const late = await env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
      subject,
      device: 'laptop',
      body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
    });
    expect(late).toMatchObject({ status: 429, json: { error: 'challenge_locked' } });
    const [row] = await env.rows<{ attempts_left: number; failures: number; status: string }>`
      SELECT attempts_left, failures, status FROM challenge_challenges WHERE id = ${challengeId}`;
    expect(row).toEqual({ attempts_left: 0, failures: 5, status: 'locked' });
    // Attempts that lost the race for the challenge's last attempt were never checked: not the subject's failures.
    const [guard] = await env.rows<{ failures: number }>`
      SELECT failures FROM challenge_subject_guards WHERE subject = ${subject}`;
    expect(guard).toEqual({ failures: 5 });
  });

  it('slows a subject down across challenges with growing delays, then locks it', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const wrong = otherCode(secret, t0);
    const guard = async () =>
      (
        await env.rows<{ failures: number; last_failure_at: string; blocked_until: string }>`
          SELECT failures, last_failure_at, blocked_until FROM challenge_subject_guards WHERE subject = ${subject}`
      )[0]!;
    // Waiting out a delay is simulated by clearing it, as the expiry test moves expiry into the past.
    const waitOut = () =>
      env.rows`UPDATE challenge_subject_guards SET blocked_until = 0 WHERE subject = ${subject}`;
    let challengeId = (await openOrFail(gateway, subject)).challengeId;
    const attempt = (code = wrong) =>
      env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
        subject,
        device: 'laptop',
        body: { method: 'totp', code },
      });

    // Six failures are free (freeFailures: 6): five use up one challenge, the sixth starts on a second.
    for (let i = 0; i < 5; i++) expect((await attempt()).status).toBe(401);
    challengeId = (await openOrFail(gateway, subject)).challengeId;
    expect((await attempt()).status).toBe(401);
    const free = await guard();
    expect(free.failures).toBe(6);
    expect(Number(free.blocked_until)).toBe(Number(free.last_failure_at));
    // ...then each one makes the subject wait: 2 s, 4 s, 8 s, exactly as stored.
    for (const [n, delayMs] of [
      [7, 2000],
      [8, 4000],
      [9, 8000],
    ] as const) {
      expect((await attempt()).status).toBe(401);
      const g = await guard();
      expect(g.failures).toBe(n);
      expect(Number(g.blocked_until) - Number(g.last_failure_at)).toBe(delayMs);
      // Even the right code right away is refused before anything is checked, with how long to wait.
      const early = await attempt(codeAt(secret, t0 + PERIOD_MS));
      expect(early).toMatchObject({ status: 429, json: { error: 'too_many_attempts' } });
      const retryAfter = Number(early.headers.get('retry-after'));
      expect(retryAfter).toBe(early.json.retry_after);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(delayMs / 1000);
      expect((await guard()).failures).toBe(n);
      await waitOut();
    }
    const third = (await openOrFail(gateway, subject)).challengeId;
    // The tenth failure locks the account: no attempt on any challenge (this one is still open), no new one.
    expect((await attempt()).status).toBe(401);
    await waitOut();
    challengeId = third;
    const locked = await attempt(codeAt(secret, t0 + PERIOD_MS));
    expect(locked).toMatchObject({ status: 429, json: { error: 'challenge_locked' } });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(await openChallenge(subject)).toMatchObject({ status: 'denied' });
  });

  it('forgets failures after a pass', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    const verify = (code: string) =>
      env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
        subject,
        device: 'laptop',
        body: { method: 'totp', code },
      });
    expect((await verify(otherCode(secret, t0))).status).toBe(401);
    expect((await verify(otherCode(secret, t0))).status).toBe(401);
    expect((await verify(codeAt(secret, t0 + PERIOD_MS))).status).toBe(200);
    const [guard] = await env.rows<{ failures: number; blocked_until: string }>`
      SELECT failures, blocked_until FROM challenge_subject_guards WHERE subject = ${subject}`;
    expect({ failures: guard!.failures, blocked: Number(guard!.blocked_until) }).toEqual({
      failures: 0,
      blocked: 0,
    });
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
    expect(await env.call('POST', path, { subject, sessionId: null, device: 'laptop', body })).toMatchObject({
      status: 403,
      json: { error: 'session_mismatch' },
    });
    // None of that used an attempt, and none elevated anyone.
    expect(outcomes.filter((o) => o.challengeId === challengeId)).toEqual([]);
    expect(await env.call('POST', path, { subject, device: 'laptop', body })).toMatchObject({ status: 200 });
  });

  it('binds a challenge to a token without sid: its jti, else a hash of it, on every view and verify', async () => {
    for (const kind of ['jti', 'hash'] as const) {
      const { subject, secret, t0 } = await env.enrolActive('laptop');
      // Another issuer's tokens: no sid; with a jti, or with nothing but their claims.
      const tokens = {
        jti: await env.accessToken(subject, null, { jti: randomUUID() }),
        otherJti: await env.accessToken(subject, null, { jti: randomUUID() }),
        hash: await env.accessToken(subject, null, { azp: 'app-a' }),
        otherHash: await env.accessToken(subject, null, { azp: 'app-b' }),
        sid: await env.accessToken(subject, 'session-1'),
      };
      const token = tokens[kind];
      const others =
        kind === 'jti'
          ? [tokens.otherJti, tokens.hash, tokens.sid]
          : [tokens.otherHash, tokens.jti, tokens.sid];
      // What the gateway sends: the binding of the token that met the step-up.
      const sessionId = sessionBindingOf(await env.verifier.verify(token));
      expect(sessionId).toMatch(kind === 'jti' ? /^jti:/ : /^tok:/);
      const { challengeId } = await openOrFail(gateway, subject, { sessionId });
      const [row] = await env.rows<{ session_id: string }>`
        SELECT session_id FROM challenge_challenges WHERE id = ${challengeId}`;
      expect(row!.session_id).toBe(sessionId);
      const path = `/.stepgate/challenges/${challengeId}`;
      const body = { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) };
      for (const other of others) {
        expect((await env.call('GET', path, { token: other, device: 'laptop' })).status).toBe(403);
        expect(
          await env.call('POST', `${path}/verify`, { token: other, device: 'laptop', body }),
        ).toMatchObject({ status: 403, json: { error: 'session_mismatch' } });
      }
      expect(outcomes.filter((o) => o.challengeId === challengeId)).toEqual([]);
      expect((await env.call('GET', path, { token, device: 'laptop' })).status).toBe(200);
      const passed = await env.call('POST', `${path}/verify`, { token, device: 'laptop', body });
      expect(passed.status).toBe(200);
      // The stepped-up token carries the caller's session, not the binding: here there is none to carry.
      expect((await env.verifier.verify(passed.json.access_token as string)).sessionId).toBeNull();
    }
  });

  it('ends every challenge open at a lockout for good: they stay locked after it expires', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const verify = (challengeId: string, code: string) =>
      env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
        subject,
        device: 'laptop',
        body: { method: 'totp', code },
      });
    const earlier = (await openOrFail(gateway, subject)).challengeId;
    const failing = (await openOrFail(gateway, subject)).challengeId;
    const wrong = otherCode(secret, t0);
    expect((await verify(failing, wrong)).status).toBe(401);
    // Nine failures, as the lockout test earns them one by one; the tenth locks the account.
    await env.rows`UPDATE challenge_subject_guards SET failures = 9, blocked_until = 0 WHERE subject = ${subject}`;
    expect((await verify(failing, wrong)).status).toBe(401);
    // The lockout window is shorter than a challenge's life: it expires while `earlier` has not.
    await env.rows`
      UPDATE challenge_subject_guards SET last_failure_at = ${Date.now() - 901_000}, blocked_until = 0
      WHERE subject = ${subject}`;
    const right = codeAt(secret, t0 + PERIOD_MS);
    const late = await verify(earlier, right);
    expect(late).toMatchObject({ status: 429, json: { error: 'challenge_locked', attempts_left: 0 } });
    const page = await env.call('GET', `/.stepgate/challenges/${earlier}`, { subject, device: 'laptop' });
    expect(page.status).toBe(200);
    expect(page.text).toContain('Too many wrong answers');
    await until(() =>
      outcomes.some((o) => o.challengeId === earlier && o.result === 'locked') ? true : undefined,
    );
    expect(outcomes.filter((o) => o.challengeId === earlier).map((o) => o.result)).toEqual(['locked']);
    // A fresh challenge works: the account is no longer locked, and the code was never checked.
    const fresh = (await openOrFail(gateway, subject)).challengeId;
    expect((await verify(fresh, right)).status).toBe(200);
  });

  it.runIf(backend === 'postgres')(
    'does not pass a challenge whose answer is being checked when the lockout is recorded',
    async () => {
      const { subject, secret, t0, factorId } = await env.enrolActive('laptop');
      const verify = (challengeId: string, code: string) =>
        env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
          subject,
          device: 'laptop',
          body: { method: 'totp', code },
        });
      const inFlight = (await openOrFail(gateway, subject)).challengeId;
      const failing = (await openOrFail(gateway, subject)).challengeId;
      const wrong = otherCode(secret, t0);
      expect((await verify(failing, wrong)).status).toBe(401);
      await env.rows`UPDATE challenge_subject_guards SET failures = 8, blocked_until = 0 WHERE subject = ${subject}`;
      // Hold the factor's row: the right answer is admitted and counted, then waits inside its check.
      const db = env.app.get<DataSource>(getDataSourceToken('challenge'));
      const holder = db.createQueryRunner();
      await holder.startTransaction();
      let answer: Promise<Awaited<ReturnType<typeof verify>>>;
      try {
        await holder.query('SELECT id FROM challenge_totp_factors WHERE id = $1 FOR UPDATE', [factorId]);
        answer = verify(inFlight, codeAt(secret, t0 + PERIOD_MS));
        await until(async () => {
          const [w] = await env.rows<{ n: string }>`
            SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`;
          return Number(w!.n) > 0 ? true : undefined;
        });
        // Meanwhile (its delay waited out) the tenth failure locks the account.
        await env.rows`UPDATE challenge_subject_guards SET blocked_until = 0 WHERE subject = ${subject}`;
        expect((await verify(failing, wrong)).status).toBe(401);
      } finally {
        await holder.commitTransaction();
        await holder.release();
      }
      expect(await answer).toMatchObject({ status: 429, json: { error: 'challenge_locked' } });
      const [row] = await env.rows<{
        status: string;
      }>`SELECT status FROM challenge_challenges WHERE id = ${inFlight}`;
      expect(row!.status).not.toBe('passed');
      await until(() =>
        outcomes.some((o) => o.challengeId === inFlight && o.result === 'locked') ? true : undefined,
      );
      expect(outcomes.some((o) => o.challengeId === inFlight && o.result === 'passed')).toBe(false);
      // The account stays locked: the refused answer did not end the streak.
      expect(await openChallenge(subject)).toMatchObject({ status: 'denied' });
    },
  );

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

  it('refuses tampered and foreign tokens everywhere a bearer is checked', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const steppedUp = await passWith(env, gateway, subject, 'laptop', secret, t0);
    const { challengeId } = await openOrFail(gateway, subject);
    const verifyPath = `/.stepgate/challenges/${challengeId}/verify`;
    const body = { method: 'totp', code: '000000' };

    // A stepped-up token signed by someone else's key under our issuer and type.
    const foreign = await generateKeyPair('ES256');
    const claims = decodeJwt(steppedUp);
    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: STEP_UP_TOKEN_TYPE, kid: 'forged' })
      .sign(foreign.privateKey);
    // An access token from an issuer nobody configured, and one from the trusted issuer's URL signed by another key.
    const strangerIssuer = await accessToken(
      foreign.privateKey,
      'https://evil.example',
      subject,
      'session-1',
    );
    const issuerUrl = String(decodeJwt(await env.accessToken(subject)).iss);
    const wrongKey = await accessToken(foreign.privateKey, issuerUrl, subject, 'session-1');
    // The trusted issuer's token dressed up as a stepped-up one.
    const access = await env.accessToken(subject);
    const [h, p, sig] = access.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const retyped = `${Buffer.from(JSON.stringify({ ...header, typ: STEP_UP_TOKEN_TYPE })).toString('base64url')}.${p}.${sig}`;
    const flipped = `${steppedUp.slice(0, -6)}${steppedUp.slice(-6).split('').reverse().join('')}`;
    const unsigned = `${Buffer.from('{"alg":"none","typ":"stepgate-stepup+jwt"}').toString('base64url')}.${steppedUp.split('.')[1]}.`;

    for (const token of [forged, strangerIssuer, wrongKey, retyped, flipped, unsigned]) {
      for (const [method, path, b] of [
        ['POST', verifyPath, body],
        ['POST', '/.stepgate/factors/totp', undefined],
        ['POST', '/.stepgate/factors/recovery-codes', undefined],
        ['GET', `/.stepgate/challenges/${challengeId}`, undefined],
      ] as const) {
        const res = await env.call(method, path, { token, device: 'laptop', body: b });
        expect(res.status, `${path} with a bad token`).toBe(401);
      }
    }
    // The genuine stepped-up token still works, and none of the above used an attempt.
    expect(
      (await env.call('POST', '/.stepgate/factors/recovery-codes', { token: steppedUp, device: 'laptop' }))
        .status,
    ).toBe(201);
    const [row] = await env.rows<{ attempts_left: number }>`
      SELECT attempts_left FROM challenge_challenges WHERE id = ${challengeId}`;
    expect(row!.attempts_left).toBe(5);
  });

  it('needs a fresh step-up to remove a factor, and audits and events every removal', async () => {
    const { subject, secret, t0, factorId } = await env.enrolActive('laptop');
    const path = `/.stepgate/factors/totp/${factorId}`;
    expect(await env.call('DELETE', path, { subject, device: 'laptop' })).toMatchObject({
      status: 403,
      json: { error: 'step_up_required' },
    });
    const steppedUp = await passWith(env, gateway, subject, 'laptop', secret, t0);
    expect(await env.call('DELETE', path, { token: steppedUp, device: 'phone' })).toMatchObject({
      status: 403,
      json: { error: 'step_up_required' },
    });
    const mallory = await env.enrolActive('laptop');
    const theirs = await passWith(env, gateway, mallory.subject, 'laptop', mallory.secret, mallory.t0);
    expect(await env.call('DELETE', path, { token: theirs, device: 'laptop' })).toMatchObject({
      status: 404,
      json: { error: 'factor_not_found' },
    });
    expect(await env.call('DELETE', path, { token: steppedUp, device: 'laptop' })).toMatchObject({
      status: 200,
      json: { id: factorId, status: 'removed' },
    });
    expect(await openChallenge(subject)).toMatchObject({ status: 'enrolment_required' });
    const audit = await env.rows`
      SELECT change, authorisation FROM challenge_factor_audit WHERE factor_id = ${factorId} ORDER BY time`;
    expect(audit).toContainEqual({ change: 'removed', authorisation: 'step_up' });
    await until(() =>
      factorEvents.some((e) => e.factorId === factorId && e.change === 'removed') ? true : undefined,
    );
  });

  it('issues recovery codes once, stored hashed, each usable once, and reports their use', async () => {
    const loner = await env.call('POST', '/.stepgate/factors/recovery-codes', {
      subject: `nobody-${randomUUID()}`,
      device: 'laptop',
    });
    expect(loner).toMatchObject({ status: 409, json: { error: 'factor_required' } });

    const { subject, secret, t0 } = await env.enrolActive('laptop');
    expect(
      await env.call('POST', '/.stepgate/factors/recovery-codes', { subject, device: 'laptop' }),
    ).toMatchObject({ status: 403, json: { error: 'step_up_required' } });
    const steppedUp = await passWith(env, gateway, subject, 'laptop', secret, t0);
    const generated = await env.call('POST', '/.stepgate/factors/recovery-codes', {
      token: steppedUp,
      device: 'laptop',
    });
    expect(generated.status).toBe(201);
    expect(generated.headers.get('cache-control')).toBe('no-store');
    const codes = generated.json.codes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);

    const stored = await env.rows<{ code_hash: string }>`
      SELECT code_hash FROM challenge_recovery_codes WHERE subject = ${subject}`;
    expect(stored).toHaveLength(10);
    for (const { code_hash } of stored) {
      for (const code of codes) {
        expect(code_hash).not.toContain(code.replace(/-/g, ''));
        expect(code_hash.toUpperCase()).not.toContain(code.replace(/-/g, ''));
      }
    }

    // Two challenges, the same code concurrently: one pass.
    const first = await openOrFail(gateway, subject);
    const second = await openOrFail(gateway, subject);
    const code = codes[0]!;
    const tries = await Promise.all(
      [first, second, first, second].map(({ challengeId }) =>
        env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
          subject,
          device: 'laptop',
          body: { method: 'recovery_code', code: code.toLowerCase().replace(/-/g, ' ') },
        }),
      ),
    );
    const passed = tries.filter((t) => t.status === 200);
    expect(passed).toHaveLength(1);
    expect(await env.verifier.verify(passed[0]!.json.access_token as string)).toMatchObject({
      subject,
      acr: MFA,
      amr: ['otp'],
    });
    // Reuse later, on a fresh challenge: refused.
    const third = await openOrFail(gateway, subject);
    expect(
      await env.call('POST', `/.stepgate/challenges/${third.challengeId}/verify`, {
        subject,
        device: 'laptop',
        body: { method: 'recovery_code', code },
      }),
    ).toMatchObject({ status: 401, json: { error: 'invalid_code' } });
    const [left] = await env.rows<{ n: number | string }>`
      SELECT COUNT(*) AS n FROM challenge_recovery_codes WHERE subject = ${subject} AND used_at IS NULL`;
    expect(Number(left!.n)).toBe(9);

    // Risk hears of it as a recovery-code outcome, and as a spent factor.
    await until(() =>
      outcomes.some((o) => o.subject === subject && o.method === 'recovery_code' && o.result === 'passed')
        ? true
        : undefined,
    );
    await until(() =>
      factorEvents.some(
        (e) => e.subject === subject && e.method === 'recovery_code' && e.change === 'removed',
      )
        ? true
        : undefined,
    );
    const metrics = await (await fetch(`${env.url}/metrics`)).text();
    expect(metrics).toMatch(/stepgate_challenge_alerts_total\{[^}]*reason="recovery_code_used"[^}]*\} [1-9]/);

    // A new batch (the stepped-up token is still fresh) replaces the old one.
    const again = await env.call('POST', '/.stepgate/factors/recovery-codes', {
      token: steppedUp,
      device: 'laptop',
    });
    expect(again.status).toBe(201);
    const fourth = await openOrFail(gateway, subject);
    expect(
      await env.call('POST', `/.stepgate/challenges/${fourth.challengeId}/verify`, {
        subject,
        device: 'laptop',
        body: { method: 'recovery_code', code: codes[1]! },
      }),
    ).toMatchObject({ status: 401 });
  });

  it('needs a CSRF token bound to the challenge on every state-changing browser request', async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject);
    const other = await openOrFail(gateway, subject);
    const browser = { origin: env.url, 'sec-fetch-site': 'same-origin' };
    const verifyPath = `/.stepgate/challenges/${challengeId}/verify`;
    const page = await env.call('GET', `/.stepgate/challenges/${challengeId}?return_to=/api/payments/42`, {
      subject,
      device: 'laptop',
    });
    expect(page.status).toBe(200);
    const token = /<meta name="csrf-token" content="([^"]+)"/.exec(page.text)![1]!;
    const otherPage = await env.call('GET', `/.stepgate/challenges/${other.challengeId}`, {
      subject,
      device: 'laptop',
    });
    const otherToken = /<meta name="csrf-token" content="([^"]+)"/.exec(otherPage.text)![1]!;
    const body = { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS), return_to: '/api/payments/42' };
    const attempt = (headers: Record<string, string>, o: { sessionId?: string; device?: string } = {}) =>
      env.call('POST', verifyPath, {
        subject,
        device: o.device ?? 'laptop',
        sessionId: o.sessionId,
        body,
        headers,
      });

    expect(await attempt(browser)).toMatchObject({ status: 403, json: { error: 'csrf_failed' } });
    expect(await attempt({ ...browser, 'x-csrf-token': 'nonsense' })).toMatchObject({ status: 403 });
    expect(await attempt({ ...browser, 'x-csrf-token': `${token.slice(0, -2)}AA` })).toMatchObject({
      status: 403,
    });
    expect(await attempt({ ...browser, 'x-csrf-token': otherToken })).toMatchObject({ status: 403 });
    expect(
      await attempt({
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
        'x-csrf-token': token,
      }),
    ).toMatchObject({ status: 403, json: { error: 'csrf_failed' } });
    // A form post, with the token in the wrong session: still no.
    expect(
      await env.call('POST', verifyPath, {
        subject,
        sessionId: 'session-2',
        device: 'laptop',
        form: { method: 'totp', code: body.code, _csrf: token },
      }),
    ).toMatchObject({ status: 403, json: { error: 'csrf_failed' } });
    // None of that was an attempt; the right token passes, and the page's return_to comes back.
    const ok = await attempt({ ...browser, 'x-csrf-token': token });
    expect(ok).toMatchObject({ status: 200, json: { return_to: '/api/payments/42', acr: MFA } });

    // Factor changes from a page: a form without its token is refused.
    const removal = await env.call('POST', `/.stepgate/factors/totp/x/remove`, {
      token: ok.json.access_token as string,
      device: 'laptop',
      form: {},
    });
    expect(removal.status).toBe(403);
    expect(removal.text).toMatch(/CSRF token is missing/);
  });

  it('denies critical risk outright and raises an alert', async () => {
    const { subject } = await env.enrolActive('laptop');
    const reply = await openChallenge(subject, {
      risk: {
        score: 95,
        level: 'critical',
        signals: [{ name: 'new_country', weight: 20, detail: 'country KP differs' }],
      },
    });
    expect(reply).toEqual({
      status: 'denied',
      reason: 'no step-up method is allowed at risk level critical',
    });
    const metrics = await (await fetch(`${env.url}/metrics`)).text();
    expect(metrics).toMatch(/stepgate_challenge_alerts_total\{[^}]*reason="critical_risk"[^}]*\} [1-9]/);
  });

  it('renders the challenge page with why, escaped, under a strict CSP', async () => {
    const { subject } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject, {
      risk: {
        score: 55,
        level: 'medium',
        signals: [
          { name: 'new_device', weight: 50, detail: 'device laptop never seen' },
          { name: 'new_country', weight: 20, detail: 'country FR differs from known DE' },
          { name: 'odd_<script>', weight: 1, detail: '<img src=x onerror=alert(1)>' },
        ],
      },
    });
    const page = await env.call('GET', `/.stepgate/challenges/${challengeId}?return_to=/api/"><script>`, {
      subject,
      device: 'laptop',
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'.*frame-ancestors 'none'/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    // Plain reasons from the signal names: never risk's details, so nothing of them to escape either.
    expect(page.text).toContain('This request is not like the ones we know from your account.');
    expect(page.text).toContain('A device not seen before for this account.');
    expect(page.text).toContain('An unusual place.');
    expect(page.text).toContain('An unusual context.');
    expect(page.text).not.toContain('img src=x');
    expect(/<section class="why"[\s\S]*?<\/section>/.exec(page.text)![0]).not.toContain('FR');
    expect(page.text).not.toContain('"><script>');
    // The unsafe return_to was replaced by the site root.
    expect(page.text).toContain('data-return-to="/"');
    expect(page.text.match(/<script[^>]*>/g)).toEqual([
      '<script src="/.stepgate/challenges/assets/stepgate.js" defer>',
    ]);

    const elsewhere = await env.call('GET', `/.stepgate/challenges/${challengeId}`, {
      subject,
      device: 'phone',
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.headers.get('content-type')).toMatch(/^text\/html/);
    const script = await fetch(`${env.url}/.stepgate/challenges/assets/stepgate.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('navigator.credentials.get');
    expect((await fetch(`${env.url}/.stepgate/challenges/assets/..%2Fconfig.ts`)).status).toBe(404);
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
