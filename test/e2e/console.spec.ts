/// <reference lib="dom" />
// The risk console against the risk service itself (SQLite and, with TEST_DATABASE_URL, PostgreSQL; the
// in-process bus): a few hundred access events scored by the real model, their recorded times spread over
// the last day, then data.json checked against what was sent, and the page driven in headless Chromium,
// also under the gateway's /.stepgate/admin/ prefix. Screenshots go to test-artifacts/console/.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConsoleLogger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { getDataSourceToken } from '@nestjs/typeorm';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import type { AccessEvent, RiskLevel } from '@stepgate/contracts';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssessmentService } from '../../apps/risk/src/assessments/assessment.service';
import { loadRiskConfig } from '../../apps/risk/src/config';
import type { ConsoleData } from '../../apps/risk/src/console/console.stats';
import { scoreX } from '../../apps/risk/src/console/console.svg';
import { RISK_DB } from '../../apps/risk/src/database/risk.data-source';
import { createRiskApp } from '../../apps/risk/src/risk.bootstrap';
import { factories } from '../support/factories';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';

const ROOT = resolve(__dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
const HOUR = 3_600_000;

const IPS = ['81.2.69.142', '8.8.8.8', '203.0.113.7', '203.0.113.9', '1.1.1.1', '198.51.100.23'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
];
/** The default routes' decisions (docs/POLICY.md), as the gateway would apply them. */
const DECIDE: Record<string, Record<RiskLevel, AccessEvent['decision']>> = {
  reports: { low: 'allow', medium: 'allow', high: 'allow', critical: 'deny' },
  payments: { low: 'allow', medium: 'step_up', high: 'step_up', critical: 'deny' },
  admin: { low: 'step_up', medium: 'step_up', high: 'step_up', critical: 'deny' },
};
const ROUTES = Object.keys(DECIDE);

/** A deterministic spread of traffic: mostly familiar, some new devices, networks, a bad range, a burst. */
function* traffic(n: number): Generator<Omit<AccessEvent, 'decision' | 'riskScore' | 'riskLevel'>> {
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  for (let i = 0; i < n; i++) {
    const s = Math.floor(rand() * 30);
    const habitual = rand() < 0.7;
    const event = factories.access({
      subject: `user-${s}`,
      deviceId: habitual ? `laptop-${s}` : pick([`phone-${s}`, `new-${i}`, null]),
      clientIp: habitual ? IPS[s % 3]! : pick(IPS),
      userAgent: habitual ? AGENTS[s % AGENTS.length]! : pick(AGENTS),
      route: i % 10 < 5 ? 'reports' : i % 10 < 9 ? 'payments' : 'admin',
      path: '/api/x',
    });
    yield event;
  }
}

function runtimeFor(env: Record<string, string | undefined>): RuntimeEnv {
  return readRuntimeEnv({
    STEPGATE_CONFIG: resolve(ROOT, 'config/stepgate.yaml'),
    STEPGATE_RISK_PORT: '0',
    STEPGATE_INSTANCE_ID: `console-spec-${randomUUID()}`,
    ...env,
  });
}

describe.each(databaseBackends())('risk console on %s', (backend) => {
  let app: NestFastifyApplication;
  let base: string;
  let db: TestDatabase | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-console-'));
  /** What was sent, to check the console against. */
  const sent = { total: 0, byRoute: new Map<string, Record<string, number>>(), levels: new Set<string>() };

  beforeAll(async () => {
    if (backend === 'postgres') db = await createTestDatabase();
    const runtime = runtimeFor({ STEPGATE_DATA_DIR: dataDir, DATABASE_URL: db?.url });
    const config = loadRiskConfig(runtime);
    app = await createRiskApp(runtime, new ConsoleLogger('risk', { logLevels: ['error'] }), {
      ...config,
      lists: { ...config.lists, badIps: ['198.51.100.0/24'] },
      reload: { watch: false, debounceMs: 0 },
    });
    base = await app.getUrl();

    // As the gateway does: ask, decide by the route's policy, then publish the access with its decision.
    const assessments = app.get(AssessmentService);
    for (const event of traffic(320)) {
      const score = await assessments.assess(
        factories.assessRequest({
          subject: event.subject!,
          deviceId: event.deviceId ?? '',
          clientIp: event.clientIp,
          userAgent: event.userAgent,
          route: event.route!,
        }),
      );
      const decision = DECIDE[event.route!]![score.level];
      await assessments.onAccessBatch([
        { ...event, decision, riskScore: score.score, riskLevel: score.level, reason: `risk ${score.level}` },
      ]);
      sent.total++;
      sent.levels.add(score.level);
      const counts = sent.byRoute.get(event.route!) ?? {};
      counts[decision] = (counts[decision] ?? 0) + 1;
      sent.byRoute.set(event.route!, counts);
    }
    // A challenge outcome's assessment is not an access decision: the console must leave it out.
    await assessments.onChallengeOutcome(factories.outcome({ subject: 'user-1', deviceId: 'laptop-1' }));

    // Risk stamps an assessment with the time it was made; spread them over the last 23 hours so the rates
    // over time have a shape, oldest first.
    const ds = app.get<DataSource>(getDataSourceToken(RISK_DB));
    const [{ max }] = await ds.query<[{ max: number }]>('SELECT MAX(seq) AS max FROM risk_assessments');
    const p = (n: number) => (backend === 'postgres' ? `$${n}` : '?');
    await ds.query(
      `UPDATE risk_assessments SET time = CAST(${p(1)} AS bigint) - (CAST(${p(2)} AS bigint) - seq) * CAST(${p(3)} AS bigint)`,
      [Date.now() - 60_000, Number(max), Math.floor((23 * HOUR) / Number(max))],
    );
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const data = async (query = '') => {
    const res = await fetch(`${base}/admin/console/data.json${query}`);
    return { status: res.status, body: (await res.json()) as ConsoleData & { message?: string } };
  };

  it('counts every access decision of the window once, per route and per score bin', async () => {
    const { status, body } = await data();
    expect(status).toBe(200);
    expect(sent.levels.size).toBeGreaterThanOrEqual(3); // the traffic spans low to at least high
    expect(body.total).toBe(sent.total);
    expect(body.thresholds).toEqual({ medium: 30, high: 60, critical: 85 });
    expect(body.routesSeen.toSorted()).toEqual(ROUTES.toSorted());
    for (const route of body.routes) {
      const expected = sent.byRoute.get(route.route!)!;
      expect(route.decisions).toEqual({
        allow: expected.allow ?? 0,
        step_up: expected.step_up ?? 0,
        deny: expected.deny ?? 0,
        other: 0,
      });
      expect(route.histogram).toHaveLength(20);
      expect(route.histogram.reduce((n, b) => n + b.total, 0)).toBe(route.total);
    }
    expect(body.rates).toHaveLength(48);
    expect(body.rates.reduce((n, b) => n + b.total, 0)).toBe(sent.total);
    expect(body.recent).toHaveLength(50);
    expect(body.recent.every((d) => d.decision !== null && d.route !== null)).toBe(true);
    expect(body.topSignals.map((s) => s.name)).toContain('new_device');
    const newDevice = body.topSignals.find((s) => s.name === 'new_device')!;
    expect(newDevice.points).toBe(newDevice.fired * 50);
    // The config file's policy is the first stored version, and the one in force.
    expect(body.versionInForce).toBe(1);
    expect(body.versions).toMatchObject([
      { version: 1, source: 'file', author: 'file:stepgate.yaml', summary: 'first version' },
    ]);
  });

  it('filters by route and window, and refuses a window it cannot read', async () => {
    const { body } = await data('?route=payments');
    expect(body.routes.map((r) => r.route)).toEqual(['payments']);
    expect(body.total).toBe(Object.values(sent.byRoute.get('payments')!).reduce((a, b) => a + b, 0));
    expect(body.recent.every((d) => d.route === 'payments')).toBe(true);
    // A route with nothing in the window is still drawn (empty), never silently dropped.
    const quiet = await data('?route=nowhere');
    expect(quiet.body.routes).toMatchObject([{ route: 'nowhere', total: 0 }]);
    expect(quiet.body.total).toBe(0);

    const lastHour = await data('?last=1h');
    expect(lastHour.body.total).toBeGreaterThan(0);
    expect(lastHour.body.total).toBeLessThan(sent.total / 5);
    expect(lastHour.body.window.bucketSeconds).toBe(300);

    const empty = await data(`?to=${Date.now() - 48 * HOUR}`);
    expect(empty.body).toMatchObject({ total: 0, routes: [], recent: [], topSignals: [] });

    expect(await data('?from=yesterday')).toMatchObject({ status: 400, body: { message: /^from:/ } });
    const page = await fetch(`${base}/admin/console?from=yesterday`);
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('serves the page with a strict CSP, and only its two assets', async () => {
    const page = await fetch(`${base}/admin/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${base}/admin/console/console.js`)).headers.get('content-type')).toMatch(
      /javascript/,
    );
    expect((await fetch(`${base}/admin/console/console.css`)).status).toBe(200);
    expect((await fetch(`${base}/admin/console/..%2Fconfig.ts`)).status).toBe(404);
  });

  describe.runIf(backend === 'sqlite')('in a browser', () => {
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    const problems: string[] = [];
    let simulateStatus = 0;

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      simulateStatus = (
        await fetch(`${base}/admin/policy/simulate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            candidate: { risk: { thresholds: { medium: 40, high: 60, critical: 85 } } },
          }),
        })
      ).status;
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      page = await context.newPage();
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    });

    afterAll(async () => {
      await browser?.close();
    });

    const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    const mediumLineX = (nth = 0) =>
      page.locator('svg.histogram g.threshold.medium line').nth(nth).getAttribute('x1');

    it('draws the histograms with their thresholds, the rates, top signals and explained decisions', async () => {
      await page.goto(`${base}/admin/console`);
      expect(await page.locator('section.route').count()).toBe(3);
      expect(await page.locator('svg.histogram g.bin').count()).toBeGreaterThan(6);
      expect(await page.locator('svg.histogram rect.bar.step_up').count()).toBeGreaterThan(0);
      expect(await page.locator('svg.histogram g.threshold line').count()).toBe(9);
      expect(await mediumLineX()).toBe(String(scoreX(30)));
      expect(await page.locator('svg.rates path.line.step-up').getAttribute('d')).toMatch(
        /^M[\d.]+,[\d.]+ L/,
      );
      expect(await page.locator('table.signals tbody tr').count()).toBeGreaterThan(1);
      expect(await page.locator('table.recent tbody tr').count()).toBe(50);
      const why = page.locator('table.recent .why li').first();
      expect((await why.textContent())!.replace(/\s+/g, ' ').trim()).toMatch(/^[a-z_]+ [+-][\d.]+ \S/);
      // The stylesheet applied (a CSP that blocked it would leave the bars black).
      expect(
        await page
          .locator('rect.bar.allow')
          .first()
          .evaluate((e) => getComputedStyle(e).fill),
      ).toBe('rgb(107, 155, 209)');
      await shot('01-console');
    });

    it('moves the medium line as the slider moves, and shows the backtest or says it is missing', async () => {
      await page.locator('#t-medium').fill('42');
      expect(await page.locator('#o-medium').textContent()).toBe('42');
      expect(await mediumLineX()).toBe(String(scoreX(42)));
      expect(await mediumLineX(2)).toBe(String(scoreX(42)));
      expect(await page.locator('svg.histogram g.threshold.medium text').first().textContent()).toBe(
        'medium 42',
      );
      expect(await page.locator('#whatif-yaml').textContent()).toContain(
        'thresholds: { medium: 42, high: 60, critical: 85 }',
      );
      const status = page.locator('#whatif-status');
      if (simulateStatus === 404) {
        await expect.poll(() => status.textContent()).toMatch(/backtest is not available .*answered 404/);
        expect(await page.locator('#whatif-result').isHidden()).toBe(true);
      } else {
        await expect
          .poll(() => status.textContent(), { timeout: 15_000 })
          .toMatch(/Replayed [1-9]\d* access events/);
        expect(await page.locator('#whatif-result table').first().textContent()).toMatch(/\d+%/);
      }
      await shot('02-whatif-medium-42');

      // An impossible order is refused before anything is asked.
      await page.locator('#t-medium').fill('70');
      expect(await status.textContent()).toMatch(/must increase/);
      await page.locator('#t-medium').fill('30');
      // Near the right edge a label moves to the left of its line.
      await page.locator('#t-critical').fill('96');
      const critical = page.locator('svg.histogram g.threshold.critical text').first();
      expect(await critical.getAttribute('text-anchor')).toBe('end');
      await page.locator('#whatif-reset').click();
      expect(await critical.getAttribute('text-anchor')).toBe('start');
      expect(await mediumLineX()).toBe(String(scoreX(30)));
      expect(await status.textContent()).toMatch(/in force/);
    });

    it('renders a backtest answer of the agreed shape, as text', async () => {
      // The backtest's answer stubbed in the browser, so this runs whether or not the endpoint is built.
      const posted: unknown[] = [];
      await page.route('**/admin/policy/simulate', async (route) => {
        posted.push(route.request().postDataJSON());
        await route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({
            events: { considered: 320, notReweighable: 0, unknownRoute: 0, inForceDiffersFromRecorded: 0 },
            inForce: { allow: 200, step_up: 100, deny: 20, rates: { step_up: 0.3125, deny: 0.0625 } },
            candidate: { allow: 240, step_up: 60, deny: 20 },
            routes: {
              payments: {
                inForce: { allow: 80, step_up: 40, deny: 5 },
                candidate: { allow: 100, step_up: 20, deny: 5 },
              },
            },
            subjects: {
              newlyChallenged: { count: 0, sample: [] },
              released: { count: 12, sample: ['user-3', '<img src=x onerror=alert(1)>'] },
            },
            sample: [
              {
                time: new Date().toISOString(),
                subject: 'user-3',
                route: 'payments',
                inForce: { score: 38, level: 'medium', decision: 'step_up', signals: [] },
                candidate: { score: 38, level: 'low', decision: 'allow', signals: [] },
              },
            ],
            warnings: ['scores replayed from recorded signals'],
          }),
        });
      });
      await page.locator('#t-medium').fill('40');
      const result = page.locator('#whatif-result');
      await expect.poll(() => result.isVisible()).toBe(true);
      expect(posted).toEqual([
        {
          candidate: { risk: { thresholds: { medium: 40, high: 60, critical: 85 } } },
          from: expect.stringMatching(/Z$/),
          to: expect.stringMatching(/Z$/),
        },
      ]);
      const text = (await result.textContent())!.replace(/\s+/g, ' ');
      expect(text).toContain('step-up rate31%19%'); // 60 / 320 computed when rates are not given
      expect(text).toContain('Subjects released: 12');
      expect(text).toContain('<img src=x onerror=alert(1)>'); // shown as text, not markup
      expect(await result.locator('img').count()).toBe(0);
      expect(text).toMatch(/step_up \(medium, 38\)allow \(low, 38\)/);
      await shot('03-whatif-answer');
      await page.unroute('**/admin/policy/simulate');
    });

    it('lists the policy versions, and says a save that did not come through the gateway was refused', async () => {
      // Version 1 (the file's) is the only one: in force, the head, nothing to roll back to.
      const rows = page.locator('table.versions tbody tr');
      expect(await rows.count()).toBe(1);
      expect((await rows.first().textContent())!.replace(/\s+/g, ' ')).toMatch(
        /^ ?1 in force [\d-]+ [\d:]+ file:stepgate\.yaml config file first version $/,
      );
      expect(await page.locator('button.rollback').count()).toBe(0);

      // Medium is still at 40 from the test before: something to save.
      const save = page.locator('#whatif-save');
      expect(await save.textContent()).toBe('Save as policy version 2');
      expect(await save.isEnabled()).toBe(true);
      await page.locator('#save-comment').fill('from the risk port');
      const put = page.waitForResponse((r) => r.request().method() === 'PUT');
      await save.click();
      const answer = await put;
      // Risk takes a change only with the gateway's assertion; the page says what risk said.
      expect(answer.status()).toBe(401);
      expect(answer.request().headers()['if-match']).toBe('"1"');
      const status = page.locator('#save-status');
      await expect
        .poll(() => status.textContent())
        .toMatch(/^a policy change must come through the gateway's admin route/);
      expect(await status.getAttribute('class')).toMatch(/\berror\b/);
      expect(await save.isEnabled()).toBe(true);
      await shot('04-save-refused-without-gateway');
      expect((await (await fetch(`${base}/admin/policy`)).json()) as { version: number }).toMatchObject({
        version: 1,
      });
    });

    it('says when the policy changed since the page was drawn, or does not validate, in the words of the API', async () => {
      const save = page.locator('#whatif-save');
      const status = page.locator('#save-status');
      const answers: Record<string, { status: number; body: unknown }> = {
        PUT: {
          status: 412,
          body: { error: 'version_conflict', message: 'the policy is at version 5, not 1', version: 5 },
        },
      };
      // Risk's answers stubbed in the browser: GET passes through unless a test sets one.
      await page.route('**/admin/policy', async (route) => {
        const stub = answers[route.request().method()];
        if (!stub) return route.fallback();
        await route.fulfill({
          status: stub.status,
          contentType: 'application/json',
          body: JSON.stringify(stub.body),
        });
      });
      await save.click();
      await expect
        .poll(() => status.textContent())
        .toBe('Someone changed the policy (now version 5): reload to see it.');

      answers.PUT = {
        status: 400,
        body: {
          error: 'invalid_policy',
          message: 'the policy does not validate',
          problems: ['risk.thresholds.high: must be above medium', '<b>not markup</b>'],
        },
      };
      await save.click();
      await expect
        .poll(() => status.locator('li').allTextContents())
        .toEqual(['risk.thresholds.high: must be above medium', '<b>not markup</b>']);
      expect(await status.locator('b').count()).toBe(0);

      // The policy moved on since the page was drawn (version 1): no PUT, a reload asked for instead.
      const puts: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'PUT') puts.push(r.url());
      });
      answers.GET = { status: 200, body: { version: 4, document: { policy: {}, risk: {} } } };
      await save.click();
      await expect
        .poll(() => status.textContent())
        .toBe('Someone changed the policy (now version 4): reload to see it.');
      expect(puts).toEqual([]);
      await page.unroute('**/admin/policy');

      // Nothing moved, nothing to save.
      await page.locator('#whatif-reset').click();
      expect(await save.isDisabled()).toBe(true);
    });

    it('works under the gateway prefix, /.stepgate/admin/console', async () => {
      // Standing in for the gateway: it strips /.stepgate and forwards /admin/... to risk.
      const prefixed = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const seen: string[] = [];
      await prefixed.route('http://stepgate.test/**', async (route) => {
        const url = new URL(route.request().url());
        seen.push(url.pathname);
        const response = await route.fetch({
          url: `${base}${url.pathname.replace(/^\/\.stepgate/, '')}${url.search}`,
        });
        await route.fulfill({ response });
      });
      const p = await prefixed.newPage();
      p.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
      });
      await p.goto('http://stepgate.test/.stepgate/admin/console?route=payments');
      expect(await p.locator('section.route').count()).toBe(1);
      await p.locator('#t-high').fill('70');
      await expect.poll(() => seen).toContain('/.stepgate/admin/policy/simulate');
      expect(seen).toEqual(
        expect.arrayContaining([
          '/.stepgate/admin/console/console.js',
          '/.stepgate/admin/console/console.css',
        ]),
      );
      await p.locator('a', { hasText: '1h' }).click();
      await p.waitForURL(/\/\.stepgate\/admin\/console\?last=1h/);
      await p.screenshot({ path: join(ARTIFACTS, '05-behind-gateway-prefix.png'), fullPage: true });
      await prefixed.close();
    });

    it('broke no Content-Security-Policy rule and threw no script error', () => {
      expect(problems).toEqual([]);
    });
  });
});
