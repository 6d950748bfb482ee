// Two gateway instances over Kafka and one PostgreSQL: what every instance must share. A DPoP proof id is
// single use across instances (the PostgreSQL replay store), a session signed out at one instance is
// refused at the other (stepgate.session.revoked.v1), and each follows risk's decision changes, not the other's
// traffic (stepgate.risk.decision.v1, adr/0019). Both share one public origin (gateway.signIn.publicUrl),
// as instances behind one load balancer do, so a proof's htu and the sign-in redirect fit either.
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { generateProof } from 'dpop';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '@stepgate/contracts';
import { testKafkaBrokers } from '../support/env';
import { factories } from '../support/factories';
import { kafkaClient } from '../support/kafka-probe';
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

    it("follows decision changes, not the other instance's traffic", async () => {
      const sample = async (gateway: string, name: string, topic?: string) => {
        const text = await (await fetch(`${gateway}/.stepgate/metrics`)).text();
        return text
          .split('\n')
          .filter((l) => l.startsWith(`${name}{`) && (!topic || l.includes(`topic="${topic}"`)))
          .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      };
      const consumedBy = (gateway: string) => ({
        changes: sample(gateway, 'stepgate_kafka_messages_consumed_total', TOPICS.decisionChange),
        assessments: sample(gateway, 'stepgate_kafka_messages_consumed_total', TOPICS.riskAssessment),
      });
      const subject = `steady-${Date.now()}`;
      const token = devToken(env, subject);
      const headers = { authorization: `Bearer ${token}`, 'x-device-id': `${subject}-device` };
      // Known to risk first: its first access is learned, and A caches the level risk gives.
      expect((await fetch(`${a}/api/reports/q3`, { headers })).status).toBe(200);
      const before = { changes: await consumedBy(b).changes, assessments: await consumedBy(b).assessments };

      // Steady traffic at A only: 200 requests, each one an access event risk scores and learns from.
      for (let i = 0; i < 200; i++)
        expect((await fetch(`${a}/api/reports/q3`, { headers })).status).toBe(200);
      // Risk has scored A's traffic once it has assessed the access after it (its events are in order per subject).
      const marker = await fetch(`${a}/api/reports/q3`, { headers });
      expect(marker.status).toBe(200);
      await eventually(
        async () => ((await sample(a, 'stepgate_gateway_requests_total')) >= 202 ? true : undefined),
        'A counted its requests',
      );
      await new Promise((r) => setTimeout(r, 2000));
      // B read none of A's traffic: no assessment at all, and at most the odd change (a level that moved).
      expect((await consumedBy(b).assessments) - before.assessments).toBe(0);
      expect((await consumedBy(b).changes) - before.changes).toBeLessThan(5);

      // A challenge result for the subject is a change: both instances consume it and drop its decisions.
      const changesBefore = await Promise.all(
        [a, b].map((g) => sample(g, 'stepgate_gateway_decision_changes_total')),
      );
      const producer = kafkaClient(testKafkaBrokers()).producer({ allowAutoTopicCreation: true });
      await producer.connect();
      const outcome = factories.outcome({ subject, deviceId: `${subject}-device`, result: 'failed' });
      await producer.send({
        topic: TOPICS.challengeOutcome,
        messages: [{ key: subject, value: JSON.stringify(outcome) }],
      });
      await producer.disconnect();
      for (const [i, gateway] of [a, b].entries())
        await eventually(
          async () =>
            (await sample(gateway, 'stepgate_gateway_decision_changes_total')) > changesBefore[i]!
              ? true
              : undefined,
          `${gateway} consumed the change`,
        );
      // The consumption metric the steady phase read is live: it counted the change.
      expect(await consumedBy(b).changes).toBeGreaterThan(before.changes);
    });
  },
);
