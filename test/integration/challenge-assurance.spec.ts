// Issue #11, the challenge service's side, through its real HTTP and message surfaces: a stepped-up token says
// what it proves (the method's acr, the risk level it was opened for), a DPoP client's stepped-up token is
// bound to its key and taken only with it, the enrolment answer leads to the strongest method, and nothing a
// client is shown carries the account's profile.
import { request as httpRequest } from 'node:http';
import { randomUUID } from 'node:crypto';
import { REQUESTS, type AssessRiskRequest, type CreateChallengeRequest } from '@stepgate/contracts';
import { inProcessBroker, InProcessMessageBus, type MessageBus } from '@stepgate/kafka';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assessment,
  challengeRequest,
  codeAt,
  dpopClient,
  MFA,
  openOrFail,
  PERIOD_MS,
  PHR,
  startEnv,
  type TestEnv,
} from '../support/challenge-env';
import { databaseBackends } from '../support/postgres';

const BASIC = 'urn:stepgate:acr:basic';

describe.each(databaseBackends())('step-up assurance and DPoP binding on %s', (backend) => {
  let env: TestEnv;
  const gateway: MessageBus = new InProcessMessageBus(inProcessBroker);
  const observer = `challenge-assurance-${randomUUID()}`;
  const assessed: AssessRiskRequest[] = [];

  beforeAll(async () => {
    inProcessBroker.handle(REQUESTS.assessRisk, observer, async (m) => {
      const request = JSON.parse(m.value) as AssessRiskRequest;
      assessed.push(request);
      return assessment({ ...request, deviceId: request.deviceId ?? 'none' }, 'seen');
    });
    env = await startEnv({ backend, brokers: '', firstFactorEnrolment: 'seen-device' });
  });

  afterAll(async () => {
    await env?.stop();
    inProcessBroker.unsubscribeGroup(observer);
  });

  const openChallenge = (subject: string, over: Partial<CreateChallengeRequest> = {}) =>
    gateway.request(REQUESTS.createChallenge, challengeRequest(subject, over), 5000);

  it("mints what the method attests and the risk level it was opened for, never only the route's acr", async () => {
    const { subject, secret, t0 } = await env.enrolActive('laptop');
    const low = await openOrFail(gateway, subject, {
      requiredAcr: BASIC,
      risk: { score: 20, level: 'low', signals: [] },
    });
    const passed = await env.call('POST', `/.stepgate/challenges/${low.challengeId}/verify`, {
      subject,
      device: 'laptop',
      body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
    });
    expect(passed).toMatchObject({ status: 200, json: { token_type: 'Bearer', acr: MFA } });
    const token = passed.json.access_token as string;
    expect(await env.verifier.verify(token)).toMatchObject({
      kind: 'stepup',
      acr: MFA,
      amr: ['otp'],
      riskLevel: 'low',
      jkt: null,
    });
    expect(decodeJwt(token)).not.toHaveProperty('cnf');

    // A medium-risk moment's TOTP token says so: the gateway can refuse it where the level is high.
    const other = await env.enrolActive('laptop');
    const medium = await openOrFail(gateway, other.subject, {
      risk: { score: 45, level: 'medium', signals: [] },
    });
    const again = await env.call('POST', `/.stepgate/challenges/${medium.challengeId}/verify`, {
      subject: other.subject,
      device: 'laptop',
      body: { method: 'totp', code: codeAt(other.secret, other.t0 + PERIOD_MS) },
    });
    expect(again.status).toBe(200);
    expect(await env.verifier.verify(again.json.access_token as string)).toMatchObject({
      acr: MFA,
      riskLevel: 'medium',
    });
  });

  it('names the methods to enrol strongest first, and the passkey hint leads to the passkey ceremony', async () => {
    const subject = `newcomer-${randomUUID()}`;
    expect(await openChallenge(subject)).toEqual({
      status: 'enrolment_required',
      reason: 'add a passkey or an authenticator app (webauthn, totp) to continue',
      methods: ['webauthn', 'totp'],
    });
    expect(await openChallenge(subject, { requiredAcr: PHR })).toMatchObject({
      status: 'enrolment_required',
      methods: ['webauthn'],
    });
    // A subject with TOTP only, at high risk (passkeys only): a passkey, never the TOTP it has.
    const { subject: totpOnly, secret, t0 } = await env.enrolActive('laptop');
    expect(await openChallenge(totpOnly, { risk: { score: 70, level: 'high', signals: [] } })).toMatchObject({
      status: 'enrolment_required',
      methods: ['webauthn'],
    });

    // The hint the gateway gives for webauthn: a first passkey's ceremony starts there...
    const first = await env.call('POST', '/.stepgate/factors/webauthn/registration/options', {
      subject,
      device: 'laptop',
    });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ rp: { id: 'localhost' }, challenge: expect.any(String) });
    // ...and a second factor's after the step-up the subject can do with what it has.
    const stepUp = await openOrFail(gateway, totpOnly, { requiredAcr: MFA });
    const steppedUp = await env.call('POST', `/.stepgate/challenges/${stepUp.challengeId}/verify`, {
      subject: totpOnly,
      device: 'laptop',
      body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
    });
    const second = await env.call('POST', '/.stepgate/factors/webauthn/registration/options', {
      token: steppedUp.json.access_token as string,
      device: 'laptop',
    });
    expect(second.status).toBe(200);
  });

  it("binds a DPoP client's stepped-up token to its key, and takes a bound token only with that key", async () => {
    const client = await dpopClient();
    const other = await dpopClient();
    const subject = `dpop-${randomUUID()}`;
    const access = await env.accessToken(subject, 'session-1', { cnf: { jkt: client.jkt } });

    // Enrolment (first factor from a seen device): risk is asked about the key-bound device, as a DPoP one.
    const enrolled = await env.call('POST', '/.stepgate/factors/totp', { headers: client.headers(access) });
    expect(enrolled.status).toBe(201);
    expect(assessed.find((a) => a.subject === subject)).toMatchObject({
      deviceId: client.device,
      deviceSource: 'dpop',
    });
    const { id, secret } = enrolled.json as { id: string; secret: string };
    const t0 = Date.now();
    const activated = await env.call('POST', `/.stepgate/factors/totp/${id}/activate`, {
      headers: client.headers(access),
      body: { code: codeAt(secret, t0) },
    });
    expect(activated.status).toBe(200);

    const { challengeId } = await openOrFail(gateway, subject, { deviceId: client.device });
    const path = `/.stepgate/challenges/${challengeId}/verify`;
    const body = { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) };
    // The bound access token without its key: refused before any attempt is counted.
    for (const headers of <Record<string, string>[]>[
      { authorization: `Bearer ${access}`, 'x-device-id': client.device },
      { authorization: `Bearer ${access}`, 'x-device-id': 'laptop' },
      { ...client.headers(access), 'x-stepgate-dpop-jkt': other.jkt, 'x-device-id': other.device },
      { authorization: `DPoP ${access}`, 'x-device-id': 'laptop' },
    ]) {
      const refused = await env.call('POST', path, { headers, body });
      expect(refused.status, JSON.stringify(headers)).toBe(401);
      expect(refused.json).toMatchObject({ error: 'invalid_token' });
      expect(refused.headers.get('www-authenticate')).toMatch(
        /^DPoP realm="stepgate", error="invalid_token"/,
      );
    }
    // Another key's device is not this challenge's device.
    const otherAccess = await env.accessToken(subject, 'session-1', { cnf: { jkt: other.jkt } });
    expect(await env.call('POST', path, { headers: other.headers(otherAccess), body })).toMatchObject({
      status: 403,
      json: { error: 'device_mismatch' },
    });

    const passed = await env.call('POST', path, { headers: client.headers(access), body });
    expect(passed).toMatchObject({ status: 200, json: { token_type: 'DPoP', acr: MFA } });
    const stepped = passed.json.access_token as string;
    expect(await env.verifier.verify(stepped)).toMatchObject({
      kind: 'stepup',
      jkt: client.jkt,
      deviceId: client.device,
      riskLevel: 'medium',
    });

    // The stepped-up token is used the same way: with its key, never as a Bearer.
    const recovery = (headers: Record<string, string>) =>
      env.call('POST', '/.stepgate/factors/recovery-codes', { headers });
    const asBearer = await recovery({ authorization: `Bearer ${stepped}`, 'x-device-id': client.device });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP realm="stepgate", error="invalid_token"/);
    expect((await recovery({ authorization: `DPoP ${stepped}`, 'x-device-id': 'laptop' })).status).toBe(401);
    expect((await recovery(client.headers(stepped))).status).toBe(201);
  });

  it('keeps plain Bearer clients as they were, their device from the header', async () => {
    const { subject, secret, t0 } = await env.enrolActive('phone');
    expect(assessed.find((a) => a.subject === subject)).toMatchObject({
      deviceId: 'phone',
      deviceSource: 'header',
    });
    const { challengeId } = await openOrFail(gateway, subject, { deviceId: 'phone' });
    const passed = await env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
      subject,
      device: 'phone',
      body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
    });
    expect(passed).toMatchObject({ status: 200, json: { token_type: 'Bearer' } });
    // A device id naming a DPoP key, without that key's verified proof, is nobody's.
    const forged = await env.call('POST', '/.stepgate/factors/recovery-codes', {
      token: passed.json.access_token as string,
      device: `dpop:${'A'.repeat(43)}`,
    });
    expect(forged).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
  });

  it('answers a missing, malformed or repeated Authorization header with 401 or 400 and a challenge, never 500', async () => {
    const path = '/.stepgate/factors/totp';
    const missing = await env.call('POST', path, { device: 'laptop' });
    expect(missing).toMatchObject({ status: 401, json: { error: 'unauthorized' } });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="stepgate"');
    for (const authorization of ['Basic YWxpY2U6c2VjcmV0', 'Bearer', 'Bearer a b', 'DPoP', 'DPoP "x"']) {
      const res = await env.call('POST', path, { device: 'laptop', headers: { authorization } });
      expect(res.status, authorization).toBeLessThan(500);
      expect([400, 401], authorization).toContain(res.status);
      expect(res.headers.get('www-authenticate'), authorization).toMatch(/^(Bearer|DPoP) realm="stepgate"/);
    }
    expect(
      await env.call('POST', path, { device: 'laptop', headers: { authorization: 'DPoP x' } }),
    ).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    const token = await env.accessToken(`twice-${randomUUID()}`);
    const twice = await rawPost(`${env.url}${path}`, {
      authorization: [`Bearer ${token}`, `Bearer ${token}`],
      'x-device-id': 'laptop',
    });
    expect(twice.status).toBe(400);
    expect(twice.headers['www-authenticate']).toMatch(/^Bearer realm="stepgate", error="invalid_request"/);
    // A challenge page answers the same way.
    const page = await env.call('GET', `/.stepgate/challenges/${randomUUID()}`, {
      device: 'laptop',
      headers: { authorization: 'Bearer a b' },
    });
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it("shows plain reasons on the challenge page, never the account's profile", async () => {
    const { subject } = await env.enrolActive('laptop');
    const { challengeId } = await openOrFail(gateway, subject, {
      risk: {
        score: 60,
        level: 'medium',
        signals: [
          { name: 'unconfirmed_device', weight: 30, detail: 'device laptop seen 3 times, never confirmed' },
          { name: 'model_network', weight: 12, detail: 'network 81.2.69.0/24 (usual: 10.1.2.0/24 ×14)' },
          { name: 'model_city', weight: 8, detail: 'DE/BE/Berlin (usual: GB/ENG/Newmarket ×14)' },
          { name: 'model_browser', weight: 5, detail: 'Firefox on Linux (usual: Chrome on macOS)' },
          { name: 'failed_challenges', weight: 10, detail: '2 failed challenges in the last 900 s' },
          { name: 'trusted_network', weight: -10, detail: 'office network 10.1.2.0/24' },
        ],
      },
    });
    const page = await env.call('GET', `/.stepgate/challenges/${challengeId}`, { subject, device: 'laptop' });
    expect(page.status).toBe(200);
    const why = /<section class="why"[\s\S]*?<\/section>/.exec(page.text)![0];
    for (const reason of [
      'A device not yet confirmed by a step-up.',
      'An unusual network.',
      'An unusual place.',
      'An unusual browser.',
      'Recent failed step-up attempts.',
    ])
      expect(why).toContain(reason);
    for (const leak of [
      '81.2.69',
      '10.1.2',
      'Berlin',
      'Newmarket',
      'Firefox',
      'Chrome',
      'Linux',
      'macOS',
      'office',
    ])
      expect(page.text, leak).not.toContain(leak);
    // Short ones only where a random id or token cannot contain them by chance.
    for (const leak of ['×', '900', 'seen 3', '2 failed', 'usual:']) expect(why, leak).not.toContain(leak);
  });
});

/** A POST with repeated headers, which fetch would merge into one. */
function rawPost(
  url: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
