// The embedded default (`npm start`'s entry point): one process, in-process bus, SQLite or PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe.each(databaseBackends())('embedded StepGate on %s', (backend) => {
  let service: Service;
  let db: TestDatabase | undefined;
  let gateway: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const ports = await freePorts();
    if (backend === 'postgres') db = await createTestDatabase();
    env = stepgateEnv(ports, db ? { DATABASE_URL: db.url } : {});
    service = startService('stepgate', [entry('stepgate')], env);
    gateway = `http://127.0.0.1:${ports.gateway}`;
    await waitForHealthy(`${gateway}/.stepgate/healthz`, service);
  });

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  it('walks the whole step-up flow', async () => {
    await walkStepUpFlow({ gateway, env }, `alice-${backend}`);
  });

  it('lets an admin step up through StepGate and open the console API', async () => {
    await walkAdminStepUp({ gateway, env }, backend);
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await service.stop('SIGTERM')).toBe(0);
  });
});
