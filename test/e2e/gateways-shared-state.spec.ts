// Two gateway instances over Kafka and one PostgreSQL: what every instance must share. A DPoP proof id is
// single use across instances (the PostgreSQL replay store), and a session signed out at one instance is
// refused at the other (stepgate.session.revoked.v1). Both share one public origin (gateway.signIn.publicUrl),
// as instances behind one load balancer do, so a proof's htu and the sign-in redirect fit either.
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { generateProof } from 'dpop';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafkaBrokers } from '../support/env';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../support/postgres';
import {
  entry,
  eventually,
  freePort,
  freePorts,
  startService,
  stepgateEnv,
  waitForHealthy,
  type Service,
} from '../support/processes';
import { devToken } from './step-up-flow';

describe.skipIf(!postgresAvailable())(
  'two gateway instances share DPoP replay and session revocation (needs TEST_DATABASE_URL for PostgreSQL)',
  { timeout: 120_000 },
  () => {
    const services: Service[] = [];
    let db: TestDatabase | undefined;
    let browser: Browser | undefined;
    let env: Record<string, string>;
    /** Where each instance listens (Node requests go straight to one of them). */
    let a: string;
    let b: string;
    /** The public origin both instances answer for (localhost: Chromium keeps __Host- cookies on it). */
    let origin: string;

    beforeAll(async () => {
      const ports = await freePorts();
      const portB = await freePort();
      db = await createTestDatabase();
      origin = `http://localhost:${ports.gateway}`;
      env = stepgateEnv(ports, {
        KAFKA_BROKERS: testKafkaBrokers(),
        KAFKA_MAX_WAIT_MS: '25',
        STEPGATE_KAFKA_GROUP_PREFIX: `e2e-shared-${Date.now()}`,
        ...(process.env.KAFKA_BROKERS ? {} : { KAFKA_IDEMPOTENT: 'false' }),
        DATABASE_URL: db.url,
        STEPGATE_PUBLIC_URL: origin,
      });
      const start = (name: string, app: string, health: string, extra: Record<string, string> = {}) => {
        const s = startService(name, [entry(app)], { ...env, STEPGATE_INSTANCE_ID: name, ...extra });
        services.push(s);
        return waitForHealthy(health, s, 90_000);
      };
      await start('demo-upstream', 'demo-upstream', `http://127.0.0.1:${ports.upstream}/healthz`);
      await start('dev-issuer', 'dev-issuer', `http://127.0.0.1:${ports.issuer}/healthz`);
      await Promise.all([
        start('risk', 'risk', `http://127.0.0.1:${ports.risk}/healthz`),
        start('challenge', 'challenge', `http://127.0.0.1:${ports.challenge}/healthz`),
      ]);
      a = `http://127.0.0.1:${ports.gateway}`;
      b = `http://127.0.0.1:${portB}`;
      await Promise.all([
        start('gateway-a', 'gateway', `${a}/.stepgate/readyz`),
        start('gateway-b', 'gateway', `${b}/.stepgate/readyz`, { STEPGATE_GATEWAY_PORT: String(portB) }),
      ]);
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      for (const s of services.reverse()) await s.stop();
      await db?.drop();
    });

    it('accepts a DPoP proof once across instances: replayed at the same or the other instance, it is refused', async () => {
      const keys = await generateKeyPair('ES256', { extractable: true });
      const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
      const token = devToken(env, `dpop-${Date.now()}`, '--dpop-jkt', jkt);
      const htu = `${origin}/api/reports/q3`;
      const proof = () => generateProof(keys, htu, 'GET', undefined, token);
      const send = (gateway: string, dpop: string) =>
        fetch(`${gateway}/api/reports/q3`, { headers: { authorization: `DPoP ${token}`, dpop } });
      const refused = async (res: Response) => {
        expect(res.status).toBe(401);
        const challenge = res.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(/^DPoP /);
        expect(challenge).toContain('error="invalid_dpop_proof"');
      };

      // Served once at A; the same proof again at A is a replay.
      const first = await proof();
      expect((await send(a, first)).status).toBe(200);
      await refused(await send(a, first));

      // Used at B, then at A: only a store both read can know.
      const second = await proof();
      expect((await send(b, second)).status).toBe(200);
      await refused(await send(a, second));

      // And the other way round.
      const third = await proof();
      expect((await send(a, third)).status).toBe(200);
      await refused(await send(b, third));
    });

    it('refuses at instance B a session signed out at instance A', async () => {
      const context = await browser!.newContext();
      const page = await context.newPage();
      await page.goto(`${origin}/api/reports/q3`);
      await page.waitForSelector('#username');
      await page.fill('#username', `shared-${Date.now()}`);
      await Promise.all([page.waitForURL(`${origin}/api/reports/q3`), page.click('button[type=submit]')]);
      const cookies = await context.cookies(origin);
      const session = cookies.find((c) => c.name === '__Host-stepgate-session')!.value;
      const device = cookies.find((c) => c.name === '__Host-stepgate-device')!.value;
      const at = (gateway: string, accept = 'application/json') =>
        fetch(`${gateway}/api/reports/q3`, {
          headers: { accept, cookie: `__Host-stepgate-device=${device}; __Host-stepgate-session=${session}` },
          redirect: 'manual',
        });

      // The session made at A is good at B (shared keys).
      expect((await at(b)).status).toBe(200);

      // Sign out at A through the confirmation form.
      await page.goto(`${origin}/.stepgate/auth/logout`);
      await Promise.all([page.waitForSelector('#sign-in'), page.click('#logout')]);
      expect((await context.cookies(origin)).some((c) => c.name === '__Host-stepgate-session')).toBe(false);
      expect((await at(a)).status).toBe(401);

      // B learns it from the topic: the old cookie is no session there either, for an API call or a page.
      await eventually(
        async () => ((await at(b)).status === 401 ? true : undefined),
        'B refuses the signed-out session',
      );
      const asPage = await at(b, 'text/html');
      expect(asPage.status).toBe(303);
      expect(asPage.headers.get('location')).toMatch(/^\/\.stepgate\/auth\/login\?return_to=/);
      await context.close();
    });
  },
);
