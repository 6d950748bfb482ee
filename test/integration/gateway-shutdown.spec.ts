// The gateway's shutdown over the in-process bus: a request that arrives while it drains gets a 503 with
// `Connection: close`, and an access event like every answer; what was accepted is published before the app
// closes. (Over Kafka, and through a broker outage: test/e2e/access-events-outage.spec.ts.)
import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyAdapter } from '@nestjs/platform-fastify';
import { readRuntimeEnv } from '@stepgate/config';
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { inProcessBroker } from '@stepgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayApp } from '../../apps/gateway/src/gateway.bootstrap';
import { eventually, freePort, ROOT } from '../support/processes';

describe('gateway shutdown', () => {
  let app: NestFastifyApplication | undefined;
  let port: number;
  const events: AccessEvent[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  const get = (path: string) =>
    new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    port = await freePort();
    inProcessBroker.subscribe(TOPICS.access, 'shutdown-recorder', async (m) => {
      events.push(JSON.parse(m.value) as AccessEvent);
    });
    const runtime = readRuntimeEnv({
      STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
      STEPGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'stepgate-gw-shutdown-')),
      STEPGATE_GATEWAY_PORT: String(port),
      STEPGATE_DEV_ISSUER_JWKS: `http://127.0.0.1:${await freePort()}/jwks.json`,
    });
    app = await createGatewayApp(runtime, { log() {}, error() {}, warn() {} });
  });

  afterAll(async () => {
    await app?.close();
    agent.destroy();
  });

  it('answers a request that arrives while it drains with a 503 and publishes its access event', async () => {
    const before = await get('/api/reports/1');
    expect(before.status).toBe(401);
    // Nest's first shutdown step; the listener is still open, as it is while the shutdown hooks run.
    (app!.getHttpAdapter() as FastifyAdapter).beforeClose();
    const during = await get('/api/reports/2');
    expect(during.status).toBe(503);
    expect(during.headers.connection).toBe('close');
    const correlationId = during.headers['x-correlation-id'] as string;
    expect(correlationId).toBeTruthy();
    // The gateway's own endpoints too: every answer while draining is an evented 503.
    const health = await get('/.stepgate/healthz');
    expect(health.status).toBe(503);

    const closing = app!.close();
    app = undefined;
    await closing;
    const refused = await eventually(
      async () => events.find((e) => e.correlationId === correlationId),
      'the 503 evented',
      5000,
    );
    expect(refused).toMatchObject({ status: 503, decision: 'deny', reason: 'shutting_down', route: null });
    expect(events.find((e) => e.correlationId === before.headers['x-correlation-id'])).toBeDefined();
    expect(events.find((e) => e.correlationId === health.headers['x-correlation-id'])).toBeDefined();
  });
});
