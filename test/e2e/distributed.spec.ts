// The real deployment's shape as plain processes: each service on its own, talking over the Kafka
// protocol (librdkafka's mock cluster with three brokers, or KAFKA_BROKERS), SQLite or PostgreSQL.
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafkaBrokers } from '../support/env';
import { probeTopics, type Probe } from '../support/kafka-probe';
import { createTestDatabase, databaseBackends, type TestDatabase } from '../support/postgres';
import {
  entry,
  freePorts,
  startService,
  stepgateEnv,
  waitForHealthy,
  type Service,
} from '../support/processes';
import { walkAdminStepUp, walkStepUpFlow } from './step-up-flow';

describe.each(databaseBackends())('distributed StepGate over Kafka on %s', (backend) => {
  const services: Service[] = [];
  let db: TestDatabase | undefined;
  let probe: Probe;
  let gateway: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const ports = await freePorts();
    if (backend === 'postgres') db = await createTestDatabase();
    const brokers = testKafkaBrokers();
    env = stepgateEnv(ports, {
      KAFKA_BROKERS: brokers,
      KAFKA_MAX_WAIT_MS: '25',
      // Fresh consumer groups per run: the mock cluster delays a rejoin of a just-left group by a session timeout.
      STEPGATE_KAFKA_GROUP_PREFIX: `e2e-${backend}-${Date.now()}`,
      ...(process.env.KAFKA_BROKERS ? {} : { KAFKA_IDEMPOTENT: 'false' }),
      ...(db ? { DATABASE_URL: db.url } : {}),
    });
    probe = await probeTopics(brokers, [TOPICS.access]);
    const start = (name: string, app: string, health: string) => {
      const s = startService(name, [entry(app)], { ...env, STEPGATE_INSTANCE_ID: `${name}-${backend}` });
      services.push(s);
      return waitForHealthy(health, s);
    };
    await start('demo-upstream', 'demo-upstream', `http://127.0.0.1:${ports.upstream}/healthz`);
    await start('dev-issuer', 'dev-issuer', `http://127.0.0.1:${ports.issuer}/healthz`);
    await Promise.all([
      start('risk', 'risk', `http://127.0.0.1:${ports.risk}/healthz`),
      start('challenge', 'challenge', `http://127.0.0.1:${ports.challenge}/healthz`),
    ]);
    gateway = `http://127.0.0.1:${ports.gateway}`;
    // Ready, not just alive: the gateway serves before its Kafka client is (challenges are asked over Kafka).
    await start('gateway', 'gateway', `${gateway}/.stepgate/readyz`);
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await probe?.stop();
    await db?.drop();
  });

  it('walks the whole step-up flow across services', async () => {
    await walkStepUpFlow({ gateway, env }, `bob-${backend}`);
  });

  it('lets an admin step up through StepGate and open the console API', async () => {
    await walkAdminStepUp({ gateway, env }, backend);
  });

  it('publishes every request as a JSON access event on stepgate.access.v3, keyed by subject', async () => {
    const event = await probe.waitFor<AccessEvent>(
      (e) => e.subject === `bob-${backend}` && e.route === 'payments' && e.decision === 'step_up',
    );
    expect(event.path).toBe('/api/payments/42');
    expect(event.riskLevel).not.toBeNull();
    const raw = probe.messages.find((m) => m.value.includes(event.eventId));
    expect(raw?.key).toBe(`bob-${backend}`);
    const anonymous = await probe.waitFor<AccessEvent>(
      (e) => e.subject === null && e.decision === 'unauthenticated',
    );
    expect(anonymous.status).toBe(401);
    // The policy version each was decided under: the reader's reports access denied by the admin spec's change
    // names a version after the file's (1), and the reopened one the rollback after it.
    const closed = await probe.waitFor<AccessEvent>(
      (e) => e.subject === `reader-${backend}` && e.route === 'reports' && e.decision === 'deny',
    );
    expect(closed.policyVersion).toBeGreaterThan(1);
    // Open again under the rollback, the version after that.
    await probe.waitFor<AccessEvent>(
      (e) =>
        e.subject === `reader-${backend}` &&
        e.decision === 'allow' &&
        e.policyVersion === closed.policyVersion! + 1,
    );
  });
});
