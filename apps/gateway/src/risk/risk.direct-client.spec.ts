import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ASSESS_RISK_HTTP_PATH,
  RISK_SERVICE_AUDIENCE,
  type AssessRiskRequest,
  type RiskAssessment,
} from '@stepgate/contracts';
import { ServiceTokenSigner } from '@stepgate/identity';
import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectRiskClient } from './risk.direct-client';
import { RiskRequestError } from './risk.transport';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const request = (over: Partial<AssessRiskRequest> = {}): AssessRiskRequest => ({
  correlationId: '00000000-0000-4000-8000-000000000001',
  subject: 'alice',
  deviceId: 'd1',
  deviceSource: 'header',
  clientIp: '10.1.2.3',
  userAgent: 'agent/1',
  route: 'payments',
  ...over,
});

const answerFor = (req: AssessRiskRequest): RiskAssessment => ({
  assessmentId: '00000000-0000-4000-8000-000000000000',
  time: new Date(0).toISOString(),
  correlationId: req.correlationId,
  causationId: null,
  subject: req.subject,
  deviceId: req.deviceId,
  score: 45,
  level: 'medium',
  signals: [{ name: 'new_device', weight: 45, detail: 'never seen' }],
  deviceStatus: 'unknown',
  modelVersion: 't',
});

const quiet = { log() {}, warn() {}, error() {} };

/** A port nothing listens on (any more). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe(DirectRiskClient.name, () => {
  let server: Server;
  let url: string;
  let handler: Handler;
  const seen: { path: string; authorization: string | undefined; body: string }[] = [];
  let tokens: ServiceTokenSigner;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
        handler(req, body, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { privateKey } = await generateKeyPair('ES256');
    tokens = new ServiceTokenSigner(
      { issuer: 'urn:stepgate:gateway', audience: RISK_SERVICE_AUDIENCE, subject: 'gw', ttlSeconds: 300 },
      { kid: 'k1', privateKey },
    );
  });

  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const client = (base = url, timeoutMs = 300) =>
    new DirectRiskClient({ url: base, connections: 4, timeoutMs }, tokens, quiet);
  const json = (res: ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RiskRequestError);
    return (err as RiskRequestError).failure;
  };

  it('posts the request with its service token and returns the assessment', async () => {
    handler = (_req, body, res) => json(res, 200, answerFor(JSON.parse(body) as AssessRiskRequest));
    const sut = client(`${url}/`);
    seen.length = 0;
    expect(await sut.assess(request(), 300)).toMatchObject({ subject: 'alice', level: 'medium' });
    await sut.assess(request({ deviceId: 'd2' }), 300);
    expect(seen.map((s) => s.path)).toEqual([ASSESS_RISK_HTTP_PATH, ASSESS_RISK_HTTP_PATH]);
    expect(JSON.parse(seen[0]!.body)).toEqual(request());
    expect(seen[0]!.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    // One token for both.
    expect(seen[1]!.authorization).toBe(seen[0]!.authorization);
    await sut.onApplicationShutdown();
  });

  it('calls a refusal refused, an answer that is not an assessment of this context invalid', async () => {
    const sut = client();
    handler = (_req, _body, res) => json(res, 401, { error: 'unauthenticated' });
    expect(await failure(sut.assess(request(), 300))).toBe('refused');
    handler = (_req, _body, res) => json(res, 200, { score: 'high' });
    expect(await failure(sut.assess(request(), 300))).toBe('invalid');
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"subject": ');
    };
    expect(await failure(sut.assess(request(), 300))).toBe('invalid');
    handler = (_req, body, res) =>
      json(res, 200, answerFor({ ...(JSON.parse(body) as AssessRiskRequest), subject: 'bob' }));
    expect(await failure(sut.assess(request(), 300))).toBe('invalid');
    await sut.onApplicationShutdown();
  });

  it('gives up at the deadline when risk does not answer, and at once when nothing listens', async () => {
    handler = () => {};
    const sut = client();
    const started = performance.now();
    expect(await failure(sut.assess(request(), 200))).toBe('timeout');
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(1000);
    await sut.onApplicationShutdown().catch(() => undefined);

    const nowhere = client(`http://127.0.0.1:${await closedPort()}`);
    const at = performance.now();
    expect(await failure(nowhere.assess(request(), 2000))).toBe('unreachable');
    expect(performance.now() - at).toBeLessThan(1000);
    await nowhere.onApplicationShutdown();
  });
});
