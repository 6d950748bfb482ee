/// <reference lib="dom" />
// The challenge service's pages in headless Chromium, against the service itself (the gateway is not in this
// test: the browser context's extra headers stand in for it, carrying the bearer and device it would inject,
// and the test swaps in the stepped-up token after a pass, as the gateway's session would). A passkey is
// registered and used with the DevTools virtual authenticator; a TOTP app is added from its QR page and used
// from the keyboard; recovery codes are shown once. Screenshots of every page go to test-artifacts/.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { REQUESTS } from '@stepgate/contracts';
import { inProcessBroker, InProcessMessageBus, type MessageBus } from '@stepgate/kafka';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assessment,
  codeAt,
  openOrFail,
  PERIOD_MS,
  PHR,
  startEnv,
  type TestEnv,
} from '../support/challenge-env';

const ROOT = resolve(__dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'challenge-pages');
const RETURN_TO = '/api/payments/42?tab=review';

const normalise = (s: string) => s.replace(/\s+/g, ' ').trim();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('challenge pages in a browser', () => {
  let env: TestEnv;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let origin: string;
  const subject = `pages-${randomUUID()}`;
  const gateway: MessageBus = new InProcessMessageBus(inProcessBroker);
  const observer = `challenge-pages-${randomUUID()}`;
  const cspViolations: string[] = [];
  /** What the gateway would have turned into its session: every stepped-up token the pages obtained. */
  const issued: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Risk, as the factor pages' step-up asks it: a known device, medium risk on a new network.
    inProcessBroker.handle(REQUESTS.assessRisk, observer, async (m) => {
      const request = JSON.parse(m.value) as { subject: string; deviceId: string; correlationId: string };
      return assessment(request, 'seen', {
        score: 40,
        level: 'medium',
        signals: [
          { name: 'new_network', weight: 15, detail: 'network 10.1.0.0/24 never seen for this subject' },
        ],
      });
    });
    const port = await freePort();
    // WebAuthn needs a secure context and a domain RP ID: http://localhost is both, 127.0.0.1 is not.
    origin = `http://localhost:${port}`;
    env = await startEnv({
      backend: 'sqlite',
      brokers: '',
      firstFactorEnrolment: 'any-device',
      listen: { host: '127.0.0.1', port },
      challenge: { webauthn: { rpId: 'localhost', origins: [origin] } },
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({
      viewport: { width: 1000, height: 900 },
      extraHTTPHeaders: {
        authorization: `Bearer ${await env.accessToken(subject)}`,
        'x-device-id': 'laptop',
      },
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    // Standing in for the gateway, which reads the token from a passed verify (and keeps it in its session).
    // The page posts return_to in the query too (where the gateway reads it).
    await context.route(/\/\.stepgate\/challenges\/[^/]+\/verify(\?.*)?$/, async (route) => {
      const response = await route.fetch();
      const body = await response.text();
      if (response.status() === 200) issued.push((JSON.parse(body) as { access_token: string }).access_token);
      await route.fulfill({ response, body });
    });
    // Where return_to leads: the protected app, played by a stub page.
    await context.route(`${origin}/api/**`, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/html',
        body: '<!doctype html><title>Payments</title><h1>Payments</h1>',
      }),
    );
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });
  });

  afterAll(async () => {
    await browser?.close();
    await env?.stop();
    inProcessBroker.unsubscribeGroup(observer);
  });

  /** An element's text as a person reads it: whitespace from the markup's indentation collapsed. */
  const text = async (selector: string) => normalise((await page.textContent(selector)) ?? '');
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  /** The gateway elevates its session after a pass; here, the bearer the browser sends changes to that token. */
  const elevate = (token: string) =>
    context.setExtraHTTPHeaders({ authorization: `Bearer ${token}`, 'x-device-id': 'laptop' });

  async function expectAccessible(): Promise<void> {
    const report = await page.evaluate(() => ({
      unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(
        (e) => (e as HTMLInputElement).labels?.length === 0,
      ).length,
      main: document.querySelectorAll('main').length,
      h1: document.querySelectorAll('h1').length,
      lang: document.documentElement.lang,
      inlineStyles: document.querySelectorAll('[style]').length,
      inlineScripts: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
      viewport: document.querySelector('meta[name=viewport]')?.getAttribute('content'),
    }));
    expect(report).toEqual({
      unlabelled: 0,
      main: 1,
      h1: 1,
      lang: 'en',
      inlineStyles: 0,
      inlineScripts: 0,
      viewport: 'width=device-width, initial-scale=1',
    });
  }

  it('registers a passkey as the first factor with the virtual authenticator', async () => {
    const res = await page.goto(`${origin}/.stepgate/factors`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expectAccessible();
    await shot('1-factors-empty');
    await page.fill('#passkey-label', 'Virtual <key>');
    await Promise.all([
      page.waitForURL(`${origin}/.stepgate/factors?done=passkey`),
      page.click('[data-passkey-register]'),
    ]);
    expect(await text('#status')).toBe('Your passkey was added.');
    // The label is text, escaped, not markup.
    expect(await text('.factors .name')).toBe('Virtual <key>');
    await shot('2-factors-passkey-added');
  });

  it('steps up with the passkey before adding an authenticator app, then adds one from its QR code', async () => {
    await page.goto(`${origin}/.stepgate/factors`);
    // A factor exists, so changes need a fresh step-up: the page offers it.
    await Promise.all([
      page.waitForURL(/\/\.stepgate\/challenges\/[^/?]+\?return_to=%2F\.stepgate%2Ffactors$/),
      page.click('button:has-text("Confirm it’s you")'),
    ]);
    expect(await text('.why .summary')).toBe('This request is not like the ones we know from your account.');
    expect(await text('.why ul')).toBe('An unusual network.');
    await expectAccessible();
    await shot('3-challenge-step-up-for-factor-change');
    await Promise.all([
      page.waitForURL(`${origin}/.stepgate/factors`),
      page.click('[data-passkey-challenge]'),
    ]);
    expect(issued).toHaveLength(1);
    expect(await env.verifier.verify(issued[0]!)).toMatchObject({ kind: 'stepup', amr: ['hwk', 'user'] });
    await elevate(issued[0]!);

    await page.goto(`${origin}/.stepgate/factors`);
    expect(await page.locator('button:has-text("Confirm it’s you")').count()).toBe(0);
    await Promise.all([
      page.waitForURL(`${origin}/.stepgate/factors/totp/setup`),
      page.click('button:has-text("Add an authenticator app")'),
    ]);
    await expectAccessible();
    expect(await page.getAttribute('.qr svg', 'role')).toBe('img');
    await shot('4-totp-setup-qr');
    const secret = (await page.getAttribute('code.secret', 'data-secret'))!;
    await page.fill('#activate-code', '000000');
    await page.click('form[data-activate] button');
    await page.waitForSelector('#status:not([hidden])');
    expect(await text('#status')).toBe('That code did not work. Check it and try again.');
    await page.fill('#activate-code', codeAt(secret, Date.now()));
    await Promise.all([
      page.waitForURL(`${origin}/.stepgate/factors?done=totp`),
      page.click('form[data-activate] button'),
    ]);
    expect(await text('#status')).toBe('Your authenticator app was added.');
    expect(await page.locator('text=Authenticator app 1').count()).toBe(1);
    await shot('5-factors-with-totp');
    secretForLater = secret;
  });

  let secretForLater = '';
  let recoveryCodes: string[] = [];

  it('shows recovery codes once, and never again', async () => {
    await page.goto(`${origin}/.stepgate/factors/recovery-codes`);
    await expectAccessible();
    await shot('6-recovery-codes-before');
    await page.click('button:has-text("Create new recovery codes")');
    await page.waitForSelector('ol.codes');
    recoveryCodes = await page.$$eval('ol.codes code', (els) => els.map((e) => e.textContent ?? ''));
    expect(recoveryCodes).toHaveLength(10);
    expect(await text('.status.warning')).toMatch(/will not be shown again/);
    await shot('7-recovery-codes-shown-once');

    await page.goto(`${origin}/.stepgate/factors/recovery-codes`);
    const later = await page.content();
    expect(later).toContain('You have 10 unused recovery codes.');
    for (const code of recoveryCodes) expect(later).not.toContain(code);
    // Nor does the factors page show them.
    await page.goto(`${origin}/.stepgate/factors`);
    for (const code of recoveryCodes) expect(await page.content()).not.toContain(code);
  });

  it('completes a TOTP challenge from the keyboard, says why, and lands on return_to without exposing the token', async () => {
    const { challengeId } = await openOrFail(gateway, subject, {
      risk: {
        score: 70,
        level: 'medium',
        signals: [
          { name: 'new_device', weight: 50, detail: 'device laptop never seen for this subject' },
          { name: 'new_country', weight: 20, detail: 'country FR differs from known DE' },
        ],
      },
    });
    const before = issued.length;
    await page.goto(
      `${origin}/.stepgate/challenges/${challengeId}?return_to=${encodeURIComponent(RETURN_TO)}`,
    );
    // Plain reasons, never the profile's values (the country risk named stays out of the page).
    expect(await text('.why .summary')).toBe('This request is not like the ones we know from your account.');
    expect(await text('.why ul')).toContain('A device not seen before for this account.');
    expect(await text('.why ul')).toContain('An unusual place.');
    expect(await text('.why')).not.toContain('FR');
    expect((await page.locator('section.method h2').allTextContents()).map(normalise)).toEqual([
      'Use your passkey',
      'Use your authenticator app',
      'Lost your device? Use a recovery code',
    ]);
    await expectAccessible();
    await shot('8-challenge-choice');

    // Keyboard only: Tab until the code field has focus (skip link, passkey button, then the field).
    for (let i = 0; i < 10; i++) {
      if ((await page.evaluate(() => document.activeElement?.id)) === 'totp-code') break;
      await page.keyboard.press('Tab');
    }
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('totp-code');
    await page.keyboard.type('123');
    await page.keyboard.press('Enter'); // too short: the browser's own validation keeps us here
    expect(page.url()).toContain(challengeId);
    await page.fill('#totp-code', codeAt(secretForLater, Date.now() + PERIOD_MS));
    await Promise.all([page.waitForURL(`${origin}${RETURN_TO}`), page.keyboard.press('Enter')]);
    expect(await text('h1')).toBe('Payments');

    expect(issued.length).toBe(before + 1);
    const token = issued.at(-1)!;
    expect(await env.verifier.verify(token)).toMatchObject({ subject, amr: ['otp'], deviceId: 'laptop' });
    // The page never put it anywhere a script could read it later.
    const stored = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      cookie: document.cookie,
      dom: document.documentElement.outerHTML,
      name: window.name,
    }));
    for (const value of Object.values(stored)) expect(value).not.toContain(token);
    expect(await context.cookies()).toEqual([]);
    const script = readFileSync(join(ROOT, 'apps/challenge/src/pages/assets/stepgate.js'), 'utf8');
    expect(script).not.toMatch(/localStorage|sessionStorage|document\.cookie|access_token|indexedDB/);
  });

  it('asks for the passkey alone at high risk and a phishing-resistant level', async () => {
    const { challengeId } = await openOrFail(gateway, subject, {
      requiredAcr: PHR,
      risk: {
        score: 75,
        level: 'high',
        signals: [{ name: 'new_device', weight: 50, detail: 'device laptop never seen' }],
      },
    });
    await page.goto(
      `${origin}/.stepgate/challenges/${challengeId}?return_to=${encodeURIComponent(RETURN_TO)}`,
    );
    expect((await page.locator('section.method h2').allTextContents()).map(normalise)).toEqual([
      'Use your passkey',
    ]);
    await shot('9-challenge-passkey-only');
    await Promise.all([page.waitForURL(`${origin}${RETURN_TO}`), page.click('[data-passkey-challenge]')]);
    expect(await env.verifier.verify(issued.at(-1)!)).toMatchObject({ acr: PHR, amr: ['hwk', 'user'] });
  });

  it('accepts a recovery code once, and says so when it is reused', async () => {
    const first = await openOrFail(gateway, subject);
    await page.goto(
      `${origin}/.stepgate/challenges/${first.challengeId}?return_to=${encodeURIComponent(RETURN_TO)}`,
    );
    await page.fill('#recovery-code', recoveryCodes[0]!.toLowerCase());
    await Promise.all([page.waitForURL(`${origin}${RETURN_TO}`), page.click('#recovery-code ~ button')]);

    const second = await openOrFail(gateway, subject);
    await page.goto(
      `${origin}/.stepgate/challenges/${second.challengeId}?return_to=${encodeURIComponent(RETURN_TO)}`,
    );
    await page.fill('#recovery-code', recoveryCodes[0]!);
    await page.click('#recovery-code ~ button');
    await page.waitForSelector('#status:not([hidden])');
    expect(await text('#status')).toBe('That did not work. 4 attempts left.');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('status');
    await shot('10-challenge-recovery-code-reused');

    // A request without the page's CSRF token is refused, even with the bearer the "gateway" adds.
    const forged = await page.evaluate(async (id) => {
      const r = await fetch(`/.stepgate/challenges/${id}/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'recovery_code', code: 'AAAA-BBBB-CCCC' }),
      });
      return { status: r.status, body: (await r.json()) as { error: string } };
    }, second.challengeId);
    expect(forged).toEqual({ status: 403, body: expect.objectContaining({ error: 'csrf_failed' }) });
  });

  it('reads well on a phone', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      extraHTTPHeaders: {
        authorization: `Bearer ${await env.accessToken(subject)}`,
        'x-device-id': 'laptop',
      },
    });
    const small = await phone.newPage();
    const { challengeId } = await openOrFail(gateway, subject);
    await small.goto(
      `${origin}/.stepgate/challenges/${challengeId}?return_to=${encodeURIComponent(RETURN_TO)}`,
    );
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await small.screenshot({ path: join(ARTIFACTS, '11-challenge-phone.png'), fullPage: true });
    await phone.close();
    expect(cspViolations).toEqual([]);
  });
});
