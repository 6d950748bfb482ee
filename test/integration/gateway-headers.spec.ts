// What client headers reach an upstream, through real HTTP to demo upstreams: every identity, group,
// client-certificate and original-URL header of the security finding is removed, an upstream's own
// `stripHeaders` are removed too, and an allowlist upstream gets only what it listed (and what HTTP needs).
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request as rawRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readRuntimeEnv } from '@stepgate/config';
import { REQUESTS } from '@stepgate/contracts';
import { inProcessBroker } from '@stepgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startDemoUpstream, type DemoUpstream } from '../../apps/demo-upstream/src/demo-upstream.server';
import type { DevIssuerConfig } from '../../apps/dev-issuer/src/config';
import { loadOrCreateDevIssuerKey, type DevIssuerKey } from '../../apps/dev-issuer/src/dev-issuer.keys';
import { startDevIssuer, type RunningServer } from '../../apps/dev-issuer/src/dev-issuer.server';
import { signDevToken } from '../../apps/dev-issuer/src/dev-token';
import { loadGatewayConfig, type RoutePolicy } from '../../apps/gateway/src/config';
import { createGatewayApp } from '../../apps/gateway/src/gateway.bootstrap';
import { freePort, ROOT } from '../support/processes';
import { openChallengeReply, scriptedRiskReply } from '../support/factories';

/** Every header the security review saw the demo upstream echo. */
const FINDING = [
  'X-WEBAUTH-USER',
  'Impersonate-User',
  'X-Authenticated-User',
  'X-Original-URI',
  'X-Groups',
  'X-Consumer-Username',
  'X-Amzn-Oidc-Identity',
  'X-MS-CLIENT-PRINCIPAL-NAME',
  'Ssl-Client-Cert',
  'X-SSL-Client-S-DN',
  'X-Envoy-Original-Path',
  'Cf-Access-Authenticated-User-Email',
  'X-Goog-Authenticated-User-Email',
];

interface Echo {
  path: string;
  headers: Record<string, string>;
}

/** A raw HTTP/1.1 GET with header names exactly as written (underscores included). */
function get(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = rawRequest(
      { host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('gateway request headers', () => {
  let app: NestFastifyApplication;
  let port: number;
  let issuer: RunningServer;
  let issuerConfig: DevIssuerConfig;
  let key: DevIssuerKey;
  const upstreams: DemoUpstream[] = [];

  const bearer = async () => `Bearer ${await signDevToken(issuerConfig, key, { sub: 'alice', claims: {} })}`;
  const echoed = async (path: string, headers: Record<string, string>): Promise<Echo> => {
    const r = await get(port, path, {
      authorization: await bearer(),
      'x-device-id': `d-${randomUUID()}`,
      ...headers,
    });
    expect(r.status, r.body).toBe(200);
    return JSON.parse(r.body) as Echo;
  };
  /** Every header of the finding, as written, in lower case and with underscores, each with its own value. */
  const forged = (): Record<string, string> =>
    Object.fromEntries(
      FINDING.flatMap((name, i) => [
        [name, `forged-${i}`],
        [name.toLowerCase().replaceAll('-', '_'), `forged-underscore-${i}`],
      ]),
    );
  const expectNoneOfTheFinding = (e: Echo) => {
    const received = Object.keys(e.headers).map((n) => n.replaceAll('_', '-'));
    for (const name of FINDING) expect(received, name).not.toContain(name.toLowerCase());
    expect(JSON.stringify(e.headers)).not.toMatch(/forged/);
  };

  beforeAll(async () => {
    const issuerPort = await freePort();
    const challengePort = await freePort();
    port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-gwh-'));
    const issuerUrl = `http://127.0.0.1:${issuerPort}`;
    issuerConfig = {
      http: { host: '127.0.0.1', port: issuerPort },
      issuer: issuerUrl,
      backchannelUrl: '',
      audience: 'stepgate',
      tokenTtlSeconds: 300,
      groups: {},
    };
    key = await loadOrCreateDevIssuerKey(dataDir);
    issuer = await startDevIssuer(issuerConfig, key);
    for (let i = 0; i < 3; i++) upstreams.push(await startDemoUpstream('127.0.0.1', 0));
    const [demo, stripping, listing] = upstreams as [DemoUpstream, DemoUpstream, DemoUpstream];

    inProcessBroker.handle(REQUESTS.assessRisk, 'fake-risk', async (m) =>
      scriptedRiskReply(
        JSON.parse(m.value) as { subject: string; deviceId: string | null; correlationId: string },
        'low',
      ),
    );
    inProcessBroker.handle(REQUESTS.createChallenge, 'fake-challenge', async () => openChallengeReply());

    const runtime = readRuntimeEnv({
      STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
      STEPGATE_DATA_DIR: dataDir,
      STEPGATE_GATEWAY_PORT: String(port),
      STEPGATE_DEV_ISSUER_URL: issuerUrl,
      STEPGATE_DEV_ISSUER_JWKS: `${issuerUrl}/jwks.json`,
      STEPGATE_CHALLENGE_URL: `http://127.0.0.1:${challengePort}`,
      STEPGATE_CHALLENGE_JWKS: `http://127.0.0.1:${challengePort}/jwks.json`,
      STEPGATE_DEMO_UPSTREAM_URL: `http://127.0.0.1:${demo.port}`,
    });
    const config = loadGatewayConfig(runtime);
    config.gateway.upstreams.stripping = {
      url: `http://127.0.0.1:${stripping.port}`,
      timeoutMs: 30_000,
      passAuthorization: false,
      stripHeaders: ['X-Tenant', 'x-team-*'],
    };
    config.gateway.upstreams.listing = {
      url: `http://127.0.0.1:${listing.port}`,
      timeoutMs: 30_000,
      passAuthorization: false,
      forwardHeaders: { mode: 'allowlist', allow: ['X-Tenant', 'x-app-*', 'User-Agent'] },
    };
    const route = (id: string, path: string, upstream: string): RoutePolicy => ({
      id,
      path,
      upstream,
      decisions: { low: 'allow', medium: 'allow', high: 'allow', critical: 'deny' },
      onRiskUnavailable: 'allow',
      mode: 'enforce',
    });
    config.policy.routes = [
      route('stripping', '/strip/**', 'stripping'),
      route('listing', '/listed/**', 'listing'),
      route('plain', '/plain/**', 'demo'),
      ...config.policy.routes,
    ];
    app = await createGatewayApp(
      runtime,
      { log() {}, error: (...a: unknown[]) => console.error(...a), warn() {} },
      config,
    );
  });

  afterAll(async () => {
    await app?.close();
    await issuer?.close();
    for (const u of upstreams) {
      u.server.closeAllConnections();
      u.server.close();
    }
  });

  it('removes every header of the finding, in any case and with underscores, and keeps ordinary ones', async () => {
    const e = await echoed('/plain/x', {
      ...forged(),
      accept: 'application/json',
      'user-agent': 'ua/1',
      cookie: 'app=1; __Host-stepgate-session=forged-cookie',
      'x-request-id': 'r-1',
    });
    expectNoneOfTheFinding(e);
    expect(e.headers).toMatchObject({
      accept: 'application/json',
      'user-agent': 'ua/1',
      cookie: 'app=1',
      'x-request-id': 'r-1',
    });
    expect(e.headers['x-stepgate-assertion']).toBeTruthy();
    expect(e.headers.authorization).toBeUndefined();
  });

  it("removes an upstream's own stripHeaders as well", async () => {
    const e = await echoed('/strip/x', {
      ...forged(),
      'X-Tenant': 'acme',
      x_team_id: '7',
      'X-Team-Role': 'lead',
      'x-teammate': 'kept',
      accept: 'text/plain',
    });
    expectNoneOfTheFinding(e);
    const names = Object.keys(e.headers);
    for (const n of ['x-tenant', 'x_team_id', 'x-team-role']) expect(names, n).not.toContain(n);
    expect(e.headers).toMatchObject({ 'x-teammate': 'kept', accept: 'text/plain' });
  });

  it('forwards only listed headers, what HTTP needs and what the gateway sets, to an allowlist upstream', async () => {
    const e = await echoed('/listed/x', {
      ...forged(),
      'X-Tenant': 'acme',
      'x-app-version': '3',
      'user-agent': 'ua/1',
      accept: 'application/json',
      'accept-language': 'fr',
      'if-none-match': '"v1"',
      cookie: 'app=1',
      referer: 'https://elsewhere.test/',
      'x-request-id': 'r-1',
    });
    expectNoneOfTheFinding(e);
    expect(Object.keys(e.headers).sort()).toEqual(
      [
        'accept',
        'accept-language',
        'if-none-match',
        'user-agent',
        'x-app-version',
        'x-tenant',
        'x-correlation-id',
        'x-forwarded-for',
        'x-forwarded-host',
        'x-forwarded-proto',
        'x-stepgate-assertion',
        // Set by undici on the way to the upstream.
        'host',
        'connection',
      ].sort(),
    );
    expect(e.headers).toMatchObject({ 'x-tenant': 'acme', 'x-app-version': '3', 'if-none-match': '"v1"' });
  });

  it('still completes a WebSocket handshake through an allowlist upstream', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/listed/ws`, {
      headers: { authorization: await bearer(), 'x-device-id': 'd-ws', 'X-WEBAUTH-USER': 'admin' },
    });
    const hello = await new Promise<{ headers: Record<string, string> }>((resolve, reject) => {
      ws.once('message', (d: Buffer) =>
        resolve(JSON.parse(d.toString()) as { headers: Record<string, string> }),
      );
      ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
      ws.once('error', reject);
    });
    ws.close();
    expect(hello.headers['x-webauth-user']).toBeUndefined();
    expect(hello.headers['sec-websocket-key']).toBeTruthy();
    expect(hello.headers['x-stepgate-assertion']).toBeTruthy();
  });
});
