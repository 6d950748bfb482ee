// Passkeys through the challenge service's real HTTP surface, with a software authenticator: registration and
// authentication ceremonies bound and single use, user verification where the acr asks for it, credentials
// checked to be the subject's, counters that only move forward. On every database backend.
import { randomUUID } from 'node:crypto';
import { TOPICS, type FactorChanged } from '@stepgate/contracts';
import { inProcessBroker, InProcessMessageBus, type MessageBus } from '@stepgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MFA,
  openOrFail,
  PHR,
  startEnv,
  until,
  type CallResult,
  type TestEnv,
} from '../support/challenge-env';
import { databaseBackends } from '../support/postgres';
import { SoftAuthenticator } from '../support/soft-authenticator';

const RP = { rpId: 'localhost', origin: 'http://localhost:8080' };

describe.each(databaseBackends())('passkeys on %s', (backend) => {
  let env: TestEnv;
  const gateway: MessageBus = new InProcessMessageBus(inProcessBroker);
  const observer = `challenge-passkeys-${randomUUID()}`;
  const factorEvents: FactorChanged[] = [];

  beforeAll(async () => {
    inProcessBroker.subscribe(
      TOPICS.factorChanged,
      observer,
      async (m) => void factorEvents.push(JSON.parse(m.value) as FactorChanged),
    );
    env = await startEnv({ backend, brokers: '', firstFactorEnrolment: 'any-device' });
  });

  afterAll(async () => {
    await env?.stop();
    inProcessBroker.unsubscribeGroup(observer);
  });

  interface Who {
    subject?: string;
    token?: string;
    device?: string;
  }

  async function register(who: Who, authenticator = new SoftAuthenticator(RP)) {
    const options = await env.call('POST', '/.stepgate/factors/webauthn/registration/options', {
      device: 'laptop',
      ...who,
    });
    expect(options.status).toBe(200);
    const response = authenticator.create(options.json as never);
    const done = await env.call('POST', '/.stepgate/factors/webauthn/registration/verify', {
      device: 'laptop',
      ...who,
      body: { response, label: 'Test key' },
    });
    return { authenticator, options, response, done };
  }

  async function newPasskeyUser() {
    const subject = `pk-${randomUUID()}`;
    const { authenticator, done } = await register({ subject });
    expect(done.status).toBe(201);
    return { subject, authenticator, credential: done.json.id as string };
  }

  const optionsFor = (challengeId: string, who: Who) =>
    env.call('POST', `/.stepgate/challenges/${challengeId}/webauthn/options`, { device: 'laptop', ...who });

  const verify = (challengeId: string, who: Who, response: unknown): Promise<CallResult> =>
    env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
      device: 'laptop',
      ...who,
      body: { method: 'webauthn', response },
    });

  it('registers a passkey as a first factor, audited and evented, and refuses a replayed registration', async () => {
    const subject = `pk-${randomUUID()}`;
    const { options, response, done } = await register({ subject });
    expect(options.headers.get('cache-control')).toBe('no-store');
    expect(options.json).toMatchObject({
      rp: { id: 'localhost', name: 'StepGate' },
      user: { name: subject },
      attestation: 'none',
    });
    // The WebAuthn user id is opaque: it does not carry the subject.
    expect(
      Buffer.from(String((options.json.user as { id: string }).id), 'base64url').toString(),
    ).not.toContain(subject);
    expect(done).toMatchObject({ status: 201, json: { label: 'Test key', status: 'active' } });
    const id = done.json.id as string;
    const [row] = await env.rows<{ credential_id: string; counter: string | number; subject: string }>`
      SELECT credential_id, counter, subject FROM challenge_webauthn_credentials WHERE id = ${id}`;
    expect(row).toMatchObject({ credential_id: response.id, subject });
    const audit =
      await env.rows`SELECT change, method, authorisation FROM challenge_factor_audit WHERE factor_id = ${id}`;
    expect(audit).toEqual(
      expect.arrayContaining([
        { change: 'enrolled', method: 'webauthn', authorisation: 'first_factor:any-device' },
        { change: 'activated', method: 'webauthn', authorisation: 'first_factor:any-device' },
      ]),
    );
    await until(() => (factorEvents.filter((e) => e.factorId === id).length === 2 ? true : undefined));

    // The ceremony was consumed: the same response again is refused, and so is a fresh one for a used challenge.
    const again = await env.call('POST', '/.stepgate/factors/webauthn/registration/verify', {
      subject,
      device: 'laptop',
      body: { response },
    });
    expect(again).toMatchObject({ status: 400, json: { error: 'invalid_response' } });
  });

  it('binds a registration ceremony to the device and subject that asked for it', async () => {
    const subject = `pk-${randomUUID()}`;
    const options = await env.call('POST', '/.stepgate/factors/webauthn/registration/options', {
      subject,
      device: 'laptop',
    });
    const response = new SoftAuthenticator(RP).create(options.json as never);
    for (const who of [
      { subject, device: 'phone' },
      { subject: `other-${randomUUID()}`, device: 'laptop' },
    ]) {
      expect(
        await env.call('POST', '/.stepgate/factors/webauthn/registration/verify', {
          ...who,
          body: { response },
        }),
      ).toMatchObject({ status: 400, json: { error: 'invalid_response' } });
    }
    const foreignOrigin = new SoftAuthenticator(RP).create(options.json as never, {
      origin: 'https://evil.example',
    });
    expect(
      await env.call('POST', '/.stepgate/factors/webauthn/registration/verify', {
        subject,
        device: 'laptop',
        body: { response: foreignOrigin },
      }),
    ).toMatchObject({ status: 400, json: { error: 'invalid_response' } });
  });

  it('needs a fresh step-up to add a second passkey or remove one', async () => {
    const { subject, authenticator, credential } = await newPasskeyUser();
    expect(
      await env.call('POST', '/.stepgate/factors/webauthn/registration/options', {
        subject,
        device: 'laptop',
      }),
    ).toMatchObject({ status: 403, json: { error: 'step_up_required' } });
    expect(
      await env.call('DELETE', `/.stepgate/factors/webauthn/${credential}`, { subject, device: 'laptop' }),
    ).toMatchObject({ status: 403, json: { error: 'step_up_required' } });

    const { challengeId } = await openOrFail(gateway, subject);
    const options = await optionsFor(challengeId, { subject });
    const passed = await verify(challengeId, { subject }, authenticator.get(options.json as never));
    expect(passed.status).toBe(200);
    const token = passed.json.access_token as string;

    const second = await register({ token });
    expect(second.done.status).toBe(201);
    const audit = await env.rows`
      SELECT authorisation FROM challenge_factor_audit WHERE factor_id = ${second.done.json.id}`;
    expect(audit).toEqual([{ authorisation: 'step_up' }, { authorisation: 'step_up' }]);
    // The same authenticator again is one factor counted twice: refused up front (excludeCredentials) and here.
    const dup = await register({ token }, authenticator);
    expect(dup.done).toMatchObject({ status: 409, json: { error: 'credential_exists' } });

    const other = await newPasskeyUser();
    expect(
      await env.call('DELETE', `/.stepgate/factors/webauthn/${other.credential}`, {
        token,
        device: 'laptop',
      }),
    ).toMatchObject({ status: 404 });
    expect(
      await env.call('DELETE', `/.stepgate/factors/webauthn/${credential}`, { token, device: 'laptop' }),
    ).toMatchObject({ status: 200, json: { status: 'removed' } });
    await until(() =>
      factorEvents.some((e) => e.factorId === credential && e.change === 'removed') ? true : undefined,
    );
  });

  it('passes a challenge with a passkey: phishing-resistant only with user verification', async () => {
    const { subject, authenticator } = await newPasskeyUser();
    // At mfa, user verification is preferred, not required; amr says what happened.
    const mfa = await openOrFail(gateway, subject);
    expect(mfa.methods).toEqual(['webauthn']);
    const mfaOptions = await optionsFor(mfa.challengeId, { subject });
    expect(mfaOptions.json).toMatchObject({ rpId: 'localhost', userVerification: 'preferred' });
    expect(mfaOptions.json.allowCredentials).toEqual([
      { id: authenticator.id, type: 'public-key', transports: ['internal'] },
    ]);
    const noUv = await verify(
      mfa.challengeId,
      { subject },
      authenticator.get(mfaOptions.json as never, { userVerified: false }),
    );
    expect(noUv.status).toBe(200);
    expect(await env.verifier.verify(noUv.json.access_token as string)).toMatchObject({
      acr: MFA,
      amr: ['hwk'],
      riskLevel: 'medium',
    });
    // With user verification, the same mfa challenge's token attests what the passkey proved: phr.
    const mfaAgain = await openOrFail(gateway, subject);
    const uvOptions = await optionsFor(mfaAgain.challengeId, { subject });
    const withUvAtMfa = await verify(
      mfaAgain.challengeId,
      { subject },
      authenticator.get(uvOptions.json as never),
    );
    expect(withUvAtMfa).toMatchObject({ status: 200, json: { acr: PHR, token_type: 'Bearer' } });
    expect(await env.verifier.verify(withUvAtMfa.json.access_token as string)).toMatchObject({
      acr: PHR,
      amr: ['hwk', 'user'],
      riskLevel: 'medium',
    });

    // High risk, phishing-resistant acr: a passkey only, and it must verify the user.
    const phr = await openOrFail(gateway, subject, {
      requiredAcr: PHR,
      risk: { score: 70, level: 'high', signals: [] },
    });
    expect(phr.methods).toEqual(['webauthn']);
    const first = await optionsFor(phr.challengeId, { subject });
    expect(first.json.userVerification).toBe('required');
    const withoutUv = await verify(
      phr.challengeId,
      { subject },
      authenticator.get(first.json as never, { userVerified: false }),
    );
    expect(withoutUv).toMatchObject({ status: 401, json: { error: 'invalid_code', attempts_left: 4 } });
    const second = await optionsFor(phr.challengeId, { subject });
    const withUv = await verify(phr.challengeId, { subject }, authenticator.get(second.json as never));
    expect(withUv).toMatchObject({ status: 200, json: { acr: PHR } });
    expect(await env.verifier.verify(withUv.json.access_token as string)).toMatchObject({
      kind: 'stepup',
      subject,
      acr: PHR,
      riskLevel: 'high',
      amr: ['hwk', 'user'],
      deviceId: 'laptop',
    });
  });

  it('refuses a counter that does not move forward, and accepts authenticators that never count', async () => {
    const { subject, authenticator } = await newPasskeyUser();
    const use = async (counter: number) => {
      const { challengeId } = await openOrFail(gateway, subject);
      const options = await optionsFor(challengeId, { subject });
      return verify(challengeId, { subject }, authenticator.get(options.json as never, { counter }));
    };
    expect((await use(5)).status).toBe(200);
    expect((await use(3)).status).toBe(401); // went backwards: a cloned authenticator
    expect((await use(5)).status).toBe(401); // did not move
    expect((await use(6)).status).toBe(200);
    const [row] = await env.rows<{ counter: string | number }>`
      SELECT counter FROM challenge_webauthn_credentials WHERE subject = ${subject}`;
    expect(Number(row!.counter)).toBe(6);

    const synced = await newPasskeyUser();
    for (let i = 0; i < 2; i++) {
      const { challengeId } = await openOrFail(gateway, synced.subject);
      const options = await optionsFor(challengeId, { subject: synced.subject });
      const res = await verify(
        challengeId,
        { subject: synced.subject },
        synced.authenticator.get(options.json as never, { counter: 0 }),
      );
      expect(res.status).toBe(200);
    }
  });

  it("refuses unknown credentials, another subject's credential, and replayed or misdirected assertions", async () => {
    const alice = await newPasskeyUser();
    const bob = await newPasskeyUser();
    const c1 = await openOrFail(gateway, alice.subject);
    const c2 = await openOrFail(gateway, alice.subject);
    const options = await optionsFor(c1.challengeId, { subject: alice.subject });

    // Bob's authenticator signing Alice's ceremony: a real signature, but not Alice's credential.
    const bobs = bob.authenticator.get(options.json as never);
    expect(await verify(c1.challengeId, { subject: alice.subject }, bobs)).toMatchObject({ status: 401 });
    // The ceremony is spent by that attempt; a new one for the rest.
    const fresh = await optionsFor(c1.challengeId, { subject: alice.subject });
    const unknown = new SoftAuthenticator(RP).get(fresh.json as never);
    expect(await verify(c1.challengeId, { subject: alice.subject }, unknown)).toMatchObject({ status: 401 });

    const third = await optionsFor(c1.challengeId, { subject: alice.subject });
    const assertion = alice.authenticator.get(third.json as never);
    // Bound to its challenge: not accepted on another one of the same subject, nor by another device.
    expect(await verify(c2.challengeId, { subject: alice.subject }, assertion)).toMatchObject({
      status: 401,
    });
    expect(
      await verify(c1.challengeId, { subject: alice.subject, device: 'phone' }, assertion),
    ).toMatchObject({
      status: 403,
      json: { error: 'device_mismatch' },
    });
    expect(await verify(c1.challengeId, { subject: alice.subject }, assertion)).toMatchObject({
      status: 200,
    });
    // Single use: the same assertion again is refused on a new challenge.
    const c3 = await openOrFail(gateway, alice.subject);
    expect(await verify(c3.challengeId, { subject: alice.subject }, assertion)).toMatchObject({
      status: 401,
    });
    // And a ceremony cannot be started for someone else's challenge.
    expect(await optionsFor(c3.challengeId, { subject: bob.subject })).toMatchObject({
      status: 403,
      json: { error: 'subject_mismatch' },
    });
  });
});
