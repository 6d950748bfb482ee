// The foundation's outside contract, walked end to end through real HTTP: authenticated access, step-up
// demanded by risk (RFC 9470), TOTP enrolment, challenge verification, the stepped-up token accepted, and
// risk learning from the outcome. Shared by the embedded and the distributed e2e specs.
import { execFileSync } from 'node:child_process';
import { Secret, TOTP } from 'otpauth';
import { expect } from 'vitest';
import { entry, eventually, ROOT } from '../support/processes';

export interface FlowTarget {
  gateway: string;
  env: Record<string, string>;
}

export function devToken(env: Record<string, string>, sub: string, ...args: string[]): string {
  return execFileSync(process.execPath, [entry('dev-issuer', 'token.cli.js'), '--sub', sub, ...args], {
    env,
    cwd: ROOT,
  })
    .toString()
    .trim();
}

async function call(
  base: string,
  path: string,
  opts: {
    token?: string;
    device?: string;
    method?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.device) headers['x-device-id'] = opts.device;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method: opts.method ?? 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    redirect: 'manual',
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { text };
  }
  return { status: res.status, headers: res.headers, json };
}

function totpFor(secret: string, offsetSteps: number): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

export async function walkStepUpFlow({ gateway, env }: FlowTarget, subject: string): Promise<void> {
  const device = `laptop-${subject}`;
  const token = devToken(env, subject);

  // No token, a broken token: 401 with a Bearer challenge.
  const anonymous = await call(gateway, '/api/reports/q3');
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
  const broken = await call(gateway, '/api/reports/q3', { token: `${token.slice(0, -4)}AAAA`, device });
  expect(broken.status).toBe(401);
  expect(broken.headers.get('www-authenticate')).toContain('error="invalid_token"');

  // Low sensitivity: a new device is medium risk, still allowed. The demo upstream echoes what it got.
  const reports = await call(gateway, '/api/reports/q3', {
    token,
    device,
    headers: { 'x-forwarded-for': '6.6.6.6', 'x-stepgate-subject': 'root' },
  });
  expect(reports.status).toBe(200);
  expect(reports.json.path).toBe('/api/reports/q3');
  const echoed = reports.json.headers as Record<string, string>;
  expect(echoed['x-forwarded-for']).toBe('127.0.0.1');
  expect(echoed['x-stepgate-subject']).toBeUndefined();

  // Payments from a device risk has not confirmed: step-up, and with no factor yet, enrol first.
  const needsEnrolment = await call(gateway, '/api/payments/42', { token, device });
  expect(needsEnrolment.status).toBe(401);
  expect(needsEnrolment.headers.get('www-authenticate')).toMatch(
    /error="insufficient_user_authentication".*acr_values="urn:stepgate:acr:mfa".*max_age=300/,
  );
  expect((needsEnrolment.json.risk as { level: string }).level).toMatch(/medium|high/);

  // First factor from a device that already made a successful request (risk learns it asynchronously).
  const enrolled = await eventually(async () => {
    const r = await call(gateway, '/.stepgate/factors/totp', { token, device, method: 'POST', body: {} });
    return r.status === 201 ? r : undefined;
  }, 'TOTP enrolment accepted');
  const {
    id: factorId,
    secret,
    otpauth_uri,
  } = enrolled.json as { id: string; secret: string; otpauth_uri: string };
  expect(otpauth_uri).toMatch(/^otpauth:\/\/totp\//);
  const activated = await call(gateway, `/.stepgate/factors/totp/${factorId}/activate`, {
    token,
    device,
    method: 'POST',
    body: { code: totpFor(secret, 0) },
  });
  expect(activated.status).toBe(200);

  // Now the step-up names a challenge.
  const stepUp = await call(gateway, '/api/payments/42', { token, device });
  expect(stepUp.status).toBe(401);
  const challenge = stepUp.json.challenge as { id: string; methods: string[]; href: string };
  expect(challenge.methods).toContain('totp');
  expect(challenge.href).toBe(`/.stepgate/challenges/${challenge.id}/verify`);
  expect((stepUp.json.risk as { reasons: string[] }).reasons.length).toBeGreaterThan(0);

  const wrong = await call(gateway, challenge.href, {
    token,
    device,
    method: 'POST',
    body: { method: 'totp', code: '000000' === totpFor(secret, 1) ? '111111' : '000000' },
  });
  expect(wrong.status).toBe(401);
  expect(wrong.json.attempts_left).toBe(4);

  // The activation used this step's code; the next step's is inside the ±1 window and not yet used.
  const code = totpFor(secret, 1);
  const passed = await call(gateway, challenge.href, {
    token,
    device,
    method: 'POST',
    body: { method: 'totp', code },
  });
  expect(passed.status).toBe(200);
  expect(passed.json).toMatchObject({ token_type: 'Bearer', acr: 'urn:stepgate:acr:mfa' });
  const stepped = passed.json.access_token as string;

  // A used code is never accepted twice, even on a fresh challenge.
  const again = await call(gateway, '/api/payments/43', { token, device });
  if (again.status === 401 && again.json.challenge) {
    const replay = await call(gateway, (again.json.challenge as { href: string }).href, {
      token,
      device,
      method: 'POST',
      body: { method: 'totp', code },
    });
    expect(replay.status).toBe(401);
  }

  // The stepped-up token passes payments and admin, only from its own device.
  expect((await call(gateway, '/api/payments/42', { token: stepped, device })).status).toBe(200);
  expect((await call(gateway, '/api/admin/users', { token: stepped, device })).status).toBe(200);
  expect((await call(gateway, '/api/admin/users', { token: stepped, device: 'other-device' })).status).toBe(
    401,
  );
  // Admin always wants a stepped-up token; the plain one is refused with the RFC 9470 challenge.
  const adminRoutePlain = await call(gateway, '/api/admin/users', { token, device });
  expect(adminRoutePlain.status).toBe(401);
  expect(adminRoutePlain.headers.get('www-authenticate')).toContain('insufficient_user_authentication');

  // Risk learned from the passed challenge: the device is confirmed, payments no longer asks for step-up.
  await eventually(async () => {
    const r = await call(gateway, '/api/payments/44', { token, device });
    return r.status === 200 ? r : undefined;
  }, 'payments allowed from the confirmed device without step-up');

  // The admin API (risk's, behind the gateway): stepgate-admins only, and always a fresh mfa step-up.
  const adminPath = `/.stepgate/admin/subjects/${encodeURIComponent(subject)}`;
  const notAdmin = await call(gateway, adminPath, { token: stepped, device });
  expect(notAdmin.status).toBe(403);
  const adminDevice = `console-${subject}`;
  const adminPlain = await call(gateway, adminPath, { token: devToken(env, 'admin'), device: adminDevice });
  expect(adminPlain.status).toBe(401);
  expect(adminPlain.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
  // A fresh phishing-resistant sign-in: what the admin route asks at every level up to high (a first access
  // from a new device may score high, where mfa is not enough).
  const adminStrong = devToken(env, 'admin', '--acr', 'urn:stepgate:acr:phr');
  const profile = await call(gateway, adminPath, { token: adminStrong, device: adminDevice });
  expect(profile.status).toBe(200);
  expect(profile.json).toMatchObject({ subject, devices: [{ deviceId: device, status: 'confirmed' }] });
}

/**
 * An admin steps up through StepGate itself (TOTP) and the stepped-up token still opens the admin API: the
 * challenge service carries the `groups` claim over, so the route's requirement holds.
 */
export async function walkAdminStepUp({ gateway, env }: FlowTarget, suffix: string): Promise<void> {
  const device = `admin-desk-${suffix}`;
  const token = devToken(env, 'admin');
  const path = `/.stepgate/admin/console/data.json`;
  // A first factor is enrolled from a device that already made a successful request.
  expect((await call(gateway, '/api/reports/q3', { token, device })).status).toBe(200);
  const enrolled = await eventually(async () => {
    const r = await call(gateway, '/.stepgate/factors/totp', { token, device, method: 'POST', body: {} });
    return r.status === 201 ? r : undefined;
  }, 'admin TOTP enrolment');
  const { id, secret } = enrolled.json as { id: string; secret: string };
  const activate = { token, device, method: 'POST', body: { code: totpFor(secret, 0) } };
  expect((await call(gateway, `/.stepgate/factors/totp/${id}/activate`, activate)).status).toBe(200);

  const asked = await call(gateway, path, { token, device });
  expect(asked.status).toBe(401);
  const challenge = asked.json.challenge as { href: string };
  const passed = await call(gateway, challenge.href, {
    token,
    device,
    method: 'POST',
    body: { method: 'totp', code: totpFor(secret, 1) },
  });
  expect(passed.status).toBe(200);
  const stepped = passed.json.access_token as string;
  const console = await call(gateway, path, { token: stepped, device });
  expect(console.status).toBe(200);
  expect(console.json).toHaveProperty('routes');
  await changePolicyAsAdmin(gateway, { token: stepped, device }, devToken(env, `reader-${suffix}`));
}

/**
 * The versioned policy through the gateway's admin route: read it with its ETag, close the reports route
 * with If-Match, see every service apply it (a reader is refused), then roll back and see it open again.
 */
async function changePolicyAsAdmin(
  gateway: string,
  admin: { token: string; device: string },
  readerToken: string,
): Promise<void> {
  const reader = { token: readerToken, device: 'reader-laptop' };
  expect((await call(gateway, '/api/reports/q3', reader)).status).toBe(200);
  const read = await call(gateway, '/.stepgate/admin/policy', admin);
  expect(read.status).toBe(200);
  const etag = read.headers.get('etag')!;
  expect(etag).toMatch(/^"\d+"$/);
  const head = read.json as { version: number; document: { policy: { routes: Record<string, unknown>[] } } };
  const document = structuredClone(head.document);
  const reports = document.policy.routes.find((r) => r.id === 'reports')!;
  reports.decisions = { low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' };

  // Without If-Match a change could overwrite one it never saw; a reader is no admin at all.
  expect(
    (await call(gateway, '/.stepgate/admin/policy', { ...admin, method: 'PUT', body: { document } })).status,
  ).toBe(428);
  expect(
    (
      await call(gateway, '/.stepgate/admin/policy', {
        ...reader,
        method: 'PUT',
        body: { document },
        headers: { 'if-match': etag },
      })
    ).status,
  ).toBe(403);
  const changed = await call(gateway, '/.stepgate/admin/policy', {
    ...admin,
    method: 'PUT',
    body: { document, comment: 'reports closed for the e2e' },
    headers: { 'if-match': etag },
  });
  expect(changed.status).toBe(200);
  expect(changed.json).toMatchObject({ version: head.version + 1, author: 'admin', source: 'api' });
  await eventually(
    async () => ((await call(gateway, '/api/reports/q3', reader)).status === 403 ? true : undefined),
    'the gateway applying the new version',
  );

  const rolledBack = await call(gateway, '/.stepgate/admin/policy/rollback', {
    ...admin,
    method: 'POST',
    body: { to: head.version },
    headers: { 'if-match': changed.headers.get('etag')! },
  });
  expect(rolledBack.status).toBe(200);
  expect(rolledBack.json).toMatchObject({
    version: head.version + 2,
    restores: head.version,
    author: 'admin',
  });
  await eventually(
    async () => ((await call(gateway, '/api/reports/q3', reader)).status === 200 ? true : undefined),
    'the gateway applying the rollback',
  );
  const history = await call(gateway, '/.stepgate/admin/policy/versions', admin);
  const versions = history.json.versions as { version: number; source: string; author: string }[];
  expect(versions.slice(0, 2)).toMatchObject([
    { version: head.version + 2, source: 'rollback', author: 'admin' },
    { version: head.version + 1, source: 'api', author: 'admin' },
  ]);
}
