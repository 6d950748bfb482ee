// A real browser (Chromium via playwright-core) through the embedded StepGate: sign in through the dev
// issuer's login page via the gateway, see a low-risk page, then a step-up route redirects to the
// challenge page with a same-origin return_to, where TOTP passes and the browser returns to the page it
// asked for. The admin console, through the gateway, saves a moved threshold as a new policy version and
// rolls it back. Signing out takes the confirmation form (a GET only asks), and a replaced or signed-out
// session cookie, replayed, is refused. Screenshots go to test-artifacts/ (gitignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  freePorts,
  ROOT,
  startService,
  stepgateEnv,
  entry,
  waitForHealthy,
  type Service,
} from '../support/processes';
import { devToken } from './step-up-flow';

const ARTIFACTS = join(ROOT, 'test-artifacts', 'gateway-browser');

describe('gateway in a browser', () => {
  let service: Service;
  let browser: Browser;
  let gateway: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const ports = await freePorts();
    env = stepgateEnv(ports);
    service = startService('stepgate', [entry('stepgate')], env);
    // localhost, not 127.0.0.1: Chromium treats http://localhost as secure, so __Host- cookies stick.
    gateway = `http://localhost:${ports.gateway}`;
    await waitForHealthy(`http://127.0.0.1:${ports.gateway}/.stepgate/readyz`, service);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('signs in, browses, is stepped up on the challenge page, and returns to where it was', async () => {
    const subject = `browser-${Date.now()}`;
    // The subject has a TOTP factor (enrolled over the API from a device risk has seen), so step-up can
    // offer a challenge rather than enrolment.
    const totp = await enrolTotp(gateway.replace('localhost', '127.0.0.1'), env, subject);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${gateway}/api/reports/q3`);
    // Unauthenticated: the gateway sent us to the provider's login page.
    await page.waitForSelector('#username');
    expect(await page.textContent('body')).toContain('Development only');
    await page.screenshot({ path: join(ARTIFACTS, '1-dev-issuer-login.png') });
    await page.fill('#username', subject);
    await Promise.all([page.waitForURL(`${gateway}/api/reports/q3`), page.click('button[type=submit]')]);
    const echoed = JSON.parse((await page.textContent('body')) ?? '{}') as {
      path: string;
      headers: Record<string, string>;
    };
    expect(echoed.path).toBe('/api/reports/q3');
    expect(echoed.headers['x-stepgate-assertion']).toMatch(/^ey/);
    await page.screenshot({ path: join(ARTIFACTS, '2-low-risk-page.png') });

    const cookies = await context.cookies(gateway);
    const session = cookies.find((c) => c.name === '__Host-stepgate-session');
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    expect(session?.value).not.toContain(subject);
    expect(cookies.some((c) => c.name === '__Host-stepgate-device')).toBe(true);

    // Payments from this (new, unconfirmed) browser device: step-up, by redirect.
    const redirects: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 303) redirects.push(r.headers().location ?? '');
    });
    await page.goto(`${gateway}/api/payments/42?x=1`);
    const location = redirects.find((l) => l.startsWith('/.stepgate/challenges/'));
    expect(location).toMatch(/^\/\.stepgate\/challenges\/[\w-]+\?return_to=%2Fapi%2Fpayments%2F42%3Fx%3D1$/);
    expect(page.url()).toBe(`${gateway}${location}`);
    await page.screenshot({ path: join(ARTIFACTS, '3-step-up-redirect.png') });

    // The challenge page, served by the challenge service through the gateway: complete TOTP (the next
    // step's code; enrolment used this one) and land on the page first asked for, now allowed.
    await page.waitForSelector('#totp-code');
    await page.screenshot({ path: join(ARTIFACTS, '4-challenge-page.png') });
    await page.fill('#totp-code', totp.generate({ timestamp: Date.now() + 30_000 }));
    await Promise.all([page.waitForURL(`${gateway}/api/payments/42?x=1`), page.keyboard.press('Enter')]);
    const after = JSON.parse((await page.textContent('body')) ?? '{}') as {
      path: string;
      headers: Record<string, string>;
    };
    expect(after.path).toBe('/api/payments/42?x=1');
    await page.screenshot({ path: join(ARTIFACTS, '5-returned-after-step-up.png') });

    // Elevation gave the browser a new session; the stepped-up token never reached page scripts.
    const elevated = (await context.cookies(gateway)).find((c) => c.name === '__Host-stepgate-session');
    expect(elevated?.value).not.toBe(session?.value);
    const visible = await page.evaluate(
      () => JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie,
    );
    expect(visible).not.toMatch(/ey[\w-]+\.ey/);
    // The assertion the upstream received says the stepped-up acr.
    const claims = JSON.parse(
      Buffer.from(after.headers['x-stepgate-assertion']!.split('.')[1]!, 'base64url').toString(),
    ) as { acr: string };
    expect(claims.acr).toBe('urn:stepgate:acr:mfa');

    // The replaced cookie was revoked server-side: replayed, it is no session (the elevated one still is).
    const device = cookies.find((c) => c.name === '__Host-stepgate-device')!.value;
    expect((await replay(gateway, device, elevated!.value)).status).toBe(200);
    const old = await replay(gateway, device, session!.value);
    expect(old.status).toBe(401);
    expect(old.headers.getSetCookie().join('\n')).toMatch(/__Host-stepgate-session=;.*Max-Age=0/);
    await context.close();
  });

  it('signs out only by the confirmation form, and refuses the signed-out cookie afterwards', async () => {
    const subject = `logout-${Date.now()}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${gateway}/api/reports/q3`);
    await page.waitForSelector('#username');
    await page.fill('#username', subject);
    await Promise.all([page.waitForURL(`${gateway}/api/reports/q3`), page.click('button[type=submit]')]);
    const signedIn = await context.cookies(gateway);
    const session = signedIn.find((c) => c.name === '__Host-stepgate-session')!.value;
    const device = signedIn.find((c) => c.name === '__Host-stepgate-device')!.value;

    // A GET (what a link or an image on another site makes) only asks: the session stays.
    const asked = await page.goto(`${gateway}/.stepgate/auth/logout?return_to=%2Fapi%2Freports%2Fq3`);
    expect(asked?.status()).toBe(200);
    expect(asked?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(await page.textContent('h1')).toContain('Sign out?');
    await page.screenshot({ path: join(ARTIFACTS, '6-logout-confirmation.png') });
    const sessionAfterGet = (await context.cookies(gateway)).find(
      (c) => c.name === '__Host-stepgate-session',
    );
    expect(sessionAfterGet?.value).toBe(session);
    expect((await replay(gateway, device, session)).status).toBe(200);

    // A POST from another site, or without the page's token, is refused and changes nothing.
    const token = await page.getAttribute('input[name=_csrf]', 'value');
    expect(token).toMatch(/^[\w-]{43}$/);
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${gateway.replace('localhost', '127.0.0.1')}/.stepgate/auth/logout`, {
        method: 'POST',
        headers: {
          cookie: `__Host-stepgate-session=${session}`,
          'content-type': 'application/x-www-form-urlencoded',
          ...headers,
        },
        body,
        redirect: 'manual',
      });
    expect((await post({ origin: 'https://evil.example' }, `_csrf=${token}`)).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site' }, `_csrf=${token}`)).status).toBe(403);
    expect((await post({ origin: gateway }, '')).status).toBe(403);
    expect((await post({ origin: gateway }, `_csrf=${'A'.repeat(43)}`)).status).toBe(403);
    expect((await replay(gateway, device, session)).status).toBe(200);

    // The form signs out, to the signed-out page; signing in again leads back to return_to.
    await Promise.all([page.waitForSelector('#sign-in'), page.click('#logout')]);
    expect(await page.textContent('h1')).toContain('signed out');
    await page.screenshot({ path: join(ARTIFACTS, '7-signed-out.png') });
    const left = await context.cookies(gateway);
    expect(left.some((c) => c.name === '__Host-stepgate-session')).toBe(false);
    await Promise.all([page.waitForSelector('#username'), page.click('#sign-in')]);

    // The signed-out cookie, replayed, is no session on any path: 401 for an API call, sign-in for a page.
    expect((await replay(gateway, device, session)).status).toBe(401);
    const asPage = await replay(gateway, device, session, 'text/html');
    expect(asPage.status).toBe(303);
    expect(asPage.headers.get('location')).toMatch(/^\/\.stepgate\/auth\/login\?return_to=/);
    await context.close();
  });

  it('lets a stepgate-admin open the console after a step-up, ask the backtest, save a version and roll it back', async () => {
    // The admin has a factor; the dev issuer puts `admin` in stepgate-admins.
    const totp = await enrolTotp(gateway.replace('localhost', '127.0.0.1'), env, 'admin');
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      // A missing favicon is not this test's business; a refused script, style or fetch is.
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
        problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));

    await page.goto(`${gateway}/.stepgate/admin/console`);
    await page.waitForSelector('#username');
    await page.fill('#username', 'admin');
    await page.click('button[type=submit]');
    // Signed in, but the console always wants a fresh mfa step-up: the challenge page, then back.
    await page.waitForSelector('#totp-code');
    await page.fill('#totp-code', totp.generate({ timestamp: Date.now() + 30_000 }));
    await Promise.all([page.waitForURL(`${gateway}/.stepgate/admin/console`), page.keyboard.press('Enter')]);
    await page.waitForSelector('#whatif');
    expect(await page.locator('h2#histograms-title').textContent()).toBe('Scores per route');

    // The what-if panel asks the backtest through the gateway (a same-origin POST on the session).
    const asked = page.waitForResponse((r) => r.url().endsWith('/.stepgate/admin/policy/simulate'));
    await page.locator('#t-medium').fill('40');
    const answer = await asked;
    expect(answer.request().method()).toBe('POST');
    expect(answer.status()).toBe(200);
    await page.waitForSelector('#whatif-result:not([hidden])');
    expect(await page.locator('#whatif-status').textContent()).toMatch(/Replayed [1-9]\d* access events/);
    await page.screenshot({ path: join(ARTIFACTS, '6-admin-console.png'), fullPage: true });

    // Save the candidate: the file's policy is version 1, so this is version 2, by the stepped-up admin.
    const save = page.locator('#whatif-save');
    expect(await save.textContent()).toBe('Save as policy version 2');
    await page.locator('#save-comment').fill('medium from 30 to 40');
    const put = page.waitForResponse((r) => r.request().method() === 'PUT');
    await save.click();
    expect((await put).status()).toBe(200);
    const saveStatus = page.locator('#save-status');
    await expect.poll(() => saveStatus.textContent()).toMatch(/^Saved as version 2\b/);
    // What was saved is now the base: nothing left to save, and the next save would be version 3.
    expect(await save.isDisabled()).toBe(true);
    expect(await save.textContent()).toBe('Save as policy version 3');
    await page.screenshot({ path: join(ARTIFACTS, '7-saved-as-version-2.png'), fullPage: true });

    // The policy API through the same browser session and gateway.
    const v2 = await getJson<StoredPolicy>(page, '/.stepgate/admin/policy');
    expect(v2.etag).toBe('"2"');
    expect(v2.body).toMatchObject({
      version: 2,
      author: 'admin',
      source: 'api',
      comment: 'medium from 30 to 40',
      document: { risk: { thresholds: { medium: 40, high: 60, critical: 85 } } },
      changes: [{ path: 'risk.thresholds.medium', op: 'changed', from: 30, to: 40 }],
    });

    // The versions list, after a reload: version 2 by admin on top, version 1 a rollback away.
    await page.reload();
    const row = (n: number) => page.locator(`table.versions tr[data-version="${n}"]`);
    expect(await page.locator('table.versions tbody tr').count()).toBe(2);
    expect(await text(row(2))).toMatch(
      /^2 (in force )?[\d-]+ [\d:]+ admin admin API risk\.thresholds\.medium 30 → 40/,
    );
    expect(await row(2).locator('button').count()).toBe(0);

    // Roll back to version 1 (confirmed in the dialog): version 3 restores it, and the page reloads.
    page.once('dialog', (d) => void d.accept());
    const rollback = page.waitForResponse((r) => r.url().endsWith('/.stepgate/admin/policy/rollback'));
    await row(1).getByRole('button', { name: 'Roll back to this' }).click();
    const rolled = await rollback;
    expect(rolled.status()).toBe(200);
    expect(rolled.request().headers()['if-match']).toBe('"2"');
    await page.waitForSelector('table.versions tr[data-version="3"]');
    expect(await text(row(3))).toMatch(/^3 (in force )?[\d-]+ [\d:]+ admin rollback, restores v1 /);
    const v3 = await getJson<StoredPolicy>(page, '/.stepgate/admin/policy/versions/3');
    expect(v3.body).toMatchObject({
      version: 3,
      source: 'rollback',
      restores: 1,
      author: 'admin',
      document: { risk: { thresholds: { medium: 30, high: 60, critical: 85 } } },
    });
    expect((await getJson<StoredPolicy>(page, '/.stepgate/admin/policy')).etag).toBe('"3"');
    // Risk applies the head it publishes: the page's thresholds in force come back to 30.
    await expect
      .poll(async () => {
        await page.reload();
        return page.locator('#whatif').getAttribute('data-medium');
      })
      .toBe('30');
    await page.screenshot({ path: join(ARTIFACTS, '8-rolled-back-to-version-1.png'), fullPage: true });

    // The page's CSP holds through the proxy: nothing inline was refused, nothing threw.
    expect(problems).toEqual([]);
    await context.close();
  });
});

interface StoredPolicy {
  version: number;
  document: { risk: { thresholds: Record<string, number> } };
}

/** GET through the page's own fetch: the session cookie, the origin and the gateway, as the console has them. */
async function getJson<T>(
  page: Page,
  path: string,
): Promise<{ status: number; etag: string | null; body: T }> {
  const got = await page.evaluate(async (url) => {
    const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    return { status: res.status, etag: res.headers.get('etag'), body: (await res.json()) as unknown };
  }, path);
  expect(got.status).toBe(200);
  return got as { status: number; etag: string | null; body: T };
}

/** A request from outside the browser with a copy of its cookies, as whoever stole them would send it. */
function replay(
  gateway: string,
  device: string,
  session: string,
  accept = 'application/json',
): Promise<Response> {
  return fetch(`${gateway.replace('localhost', '127.0.0.1')}/api/reports/q3`, {
    headers: { accept, cookie: `__Host-stepgate-device=${device}; __Host-stepgate-session=${session}` },
    redirect: 'manual',
  });
}

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();

async function enrolTotp(gateway: string, env: Record<string, string>, subject: string): Promise<TOTP> {
  const token = devToken(env, subject);
  const device = `laptop-${subject}`;
  const headers = {
    authorization: `Bearer ${token}`,
    'x-device-id': device,
    'content-type': 'application/json',
  };
  expect((await fetch(`${gateway}/api/reports/q3`, { headers })).status).toBe(200);
  const enrolled = await eventually(async () => {
    const r = await fetch(`${gateway}/.stepgate/factors/totp`, { method: 'POST', headers, body: '{}' });
    return r.status === 201 ? ((await r.json()) as { id: string; secret: string }) : undefined;
  }, 'TOTP enrolment accepted');
  const totp = new TOTP({ secret: Secret.fromBase32(enrolled.secret), digits: 6, period: 30 });
  const code = totp.generate();
  const activated = await fetch(`${gateway}/.stepgate/factors/totp/${enrolled.id}/activate`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ code }),
  });
  expect(activated.status).toBe(200);
  return totp;
}
