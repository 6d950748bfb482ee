// The gateway as a proxy and as a browser's front door, over the in-process bus with a scripted risk and
// challenge service and real upstreams: methods and hosts, the path corpus the upstream receives, oversized
// input, streaming both ways, WebSockets, several upstreams, trusted proxies, the signed identity
// assertion, route requirements and monitor mode, browser sign-in through the dev issuer, step-up for a
// browser session and its elevation, open redirects, readiness, metrics and the access log.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, request as rawRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import { REQUESTS, TOPICS, type AccessEvent, type RiskLevel } from '@stepgate/contracts';
import { inProcessBroker } from '@stepgate/kafka';
import {
  createRemoteJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startDemoUpstream, type DemoUpstream } from '../../apps/demo-upstream/src/demo-upstream.server';
import type { DevIssuerConfig } from '../../apps/dev-issuer/src/config';
import { loadOrCreateDevIssuerKey, type DevIssuerKey } from '../../apps/dev-issuer/src/dev-issuer.keys';
import { startDevIssuer, type RunningServer } from '../../apps/dev-issuer/src/dev-issuer.server';
import { signDevToken } from '../../apps/dev-issuer/src/dev-token';
import {
  GATEWAY_CONFIG,
  loadGatewayConfig,
  type GatewayConfig,
  type RoutePolicy,
} from '../../apps/gateway/src/config';
import { createGatewayApp } from '../../apps/gateway/src/gateway.bootstrap';
import { canonicalTarget } from '../../apps/gateway/src/proxy/canonical-request';
import { eventually, freePort, ROOT } from '../support/processes';
import { openChallengeReply, scriptedRiskReply } from '../support/factories';

let riskLevel: RiskLevel = 'low';
const riskRequests: { correlationId: string; clientIp: string; route: string }[] = [];
const events: AccessEvent[] = [];
const logLines: unknown[] = [];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP/1.1 request: any method, Host header and request target, exactly as written. */
function raw(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = rawRequest(
      {
        host: '127.0.0.1',
        port,
        // A connection of its own: a pooled keep-alive socket the gateway closed a moment ago would end
        // the request with "socket hang up" before it was answered.
        agent: false,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: { host: `127.0.0.1:${port}`, ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A minimal cookie jar, as a browser keeps one for the gateway's origin. */
class Jar {
  readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
}

describe('gateway proxy', () => {
  let app: NestFastifyApplication;
  let trustingApp: NestFastifyApplication;
  let gatewayPort: number;
  let trustingPort: number;
  let base: string;
  let issuer: RunningServer;
  let issuerConfig: DevIssuerConfig;
  let key: DevIssuerKey;
  let demo: DemoUpstream;
  let second: DemoUpstream;
  /** A WebSocket upstream whose 101 sets a cookie of its own and tries to set StepGate's session cookie. */
  let cookieSetter: WebSocketServer;
  let challenge: Server;
  const challengeSeen: { method: string; url: string; authorization?: string; device?: string }[] = [];
  let challengeKey: { privateKey: CryptoKey; jwk: JWK };

  const token = (sub = 'alice', claims: Record<string, unknown> = {}) =>
    signDevToken(issuerConfig, key, { sub, claims });
  const auth = async (extra: Record<string, string> = {}, sub = 'alice', claims = {}) => ({
    authorization: `Bearer ${await token(sub, claims)}`,
    'x-device-id': `d-${randomUUID()}`,
    ...extra,
  });
  const echo = (a: Answer) =>
    JSON.parse(a.body) as {
      method: string;
      path: string;
      headers: Record<string, string>;
      body: { bytes: number; sha256: string };
    };

  const route = (over: Partial<RoutePolicy> & Pick<RoutePolicy, 'id' | 'path'>): RoutePolicy => ({
    upstream: 'demo',
    decisions: { low: 'allow', medium: 'allow', high: 'allow', critical: 'deny' },
    onRiskUnavailable: 'allow',
    mode: 'enforce',
    ...over,
  });

  beforeAll(async () => {
    const issuerPort = await freePort();
    gatewayPort = await freePort();
    trustingPort = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-gwp-'));
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
    demo = await startDemoUpstream('127.0.0.1', 0);
    second = await startDemoUpstream('127.0.0.1', 0);
    cookieSetter = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cookieSetter.on('headers', (headers) =>
      headers.push('Set-Cookie: app=1; Path=/', 'Set-Cookie: __Host-stepgate-session=forged; Path=/; Secure'),
    );
    cookieSetter.on('connection', (ws) => ws.send('hello'));
    await new Promise((resolve) => cookieSetter.once('listening', resolve));

    // The challenge service, scripted: it records what the gateway sent and passes every verification
    // with a stepped-up token for the bearer's subject and the caller's device.
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    challengeKey = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'c1', alg: 'ES256' } };
    challenge = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        challengeSeen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          authorization: req.headers.authorization,
          device: req.headers['x-device-id'] as string | undefined,
        });
        if (req.url === '/jwks.json') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ keys: [challengeKey.jwk] }));
          return;
        }
        if (req.method === 'POST' && /\/verify(\?|$)/.test(req.url ?? '')) {
          const sub = decodeJwt(String(req.headers.authorization).slice(7)).sub!;
          const now = Math.floor(Date.now() / 1000);
          void new SignJWT({
            acr: 'urn:stepgate:acr:mfa',
            amr: ['otp'],
            auth_time: now,
            device_id: req.headers['x-device-id'],
          })
            .setProtectedHeader({ alg: 'ES256', kid: 'c1', typ: 'stepgate-stepup+jwt' })
            .setIssuer('urn:stepgate:challenge')
            .setAudience('stepgate')
            .setSubject(sub)
            .setIssuedAt(now)
            .setExpirationTime(now + 300)
            .setJti(randomUUID())
            .sign(challengeKey.privateKey)
            .then((t) => {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ access_token: t, token_type: 'Bearer', expires_in: 300, acr: 'mfa' }));
            });
          return;
        }
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not_found"}');
      });
    });
    await new Promise<void>((r) => challenge.listen(0, '127.0.0.1', r));
    const challengeUrl = `http://127.0.0.1:${(challenge.address() as AddressInfo).port}`;

    inProcessBroker.handle(REQUESTS.assessRisk, 'fake-risk', async (m) => {
      const req = JSON.parse(m.value) as {
        subject: string;
        deviceId: string | null;
        correlationId: string;
        clientIp: string;
        route: string;
      };
      riskRequests.push({ correlationId: req.correlationId, clientIp: req.clientIp, route: req.route });
      return scriptedRiskReply(req, riskLevel);
    });
    inProcessBroker.handle(REQUESTS.createChallenge, 'fake-challenge', async () => openChallengeReply());
    inProcessBroker.subscribe(TOPICS.access, 'recorder', async (m) => {
      events.push(JSON.parse(m.value) as AccessEvent);
    });

    const env = (port: number): RuntimeEnv =>
      readRuntimeEnv({
        STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
        STEPGATE_DATA_DIR: dataDir,
        STEPGATE_GATEWAY_PORT: String(port),
        STEPGATE_DEV_ISSUER_URL: issuerUrl,
        STEPGATE_DEV_ISSUER_JWKS: `${issuerUrl}/jwks.json`,
        STEPGATE_CHALLENGE_URL: challengeUrl,
        STEPGATE_CHALLENGE_JWKS: `${challengeUrl}/jwks.json`,
        STEPGATE_DEMO_UPSTREAM_URL: `http://127.0.0.1:${demo.port}`,
      });
    const configure = (c: GatewayConfig): GatewayConfig => {
      c.gateway.upstreams.second = {
        url: `http://127.0.0.1:${second.port}/base`,
        timeoutMs: 30_000,
        passAuthorization: true,
      };
      c.gateway.upstreams.cookieSetter = {
        url: `http://127.0.0.1:${(cookieSetter.address() as AddressInfo).port}`,
        timeoutMs: 30_000,
        passAuthorization: false,
      };
      c.gateway.maxBodyBytes = 8 * 1024 * 1024;
      c.policy.routes = [
        route({ id: 'ws-cookies', path: '/ws-cookies', upstream: 'cookieSetter' }),
        route({ id: 'second-host', host: 'second.test', path: '/**', upstream: 'second' }),
        route({ id: 'second-prefix', path: '/svc/b/**', upstream: 'second' }),
        route({ id: 'stream', path: '/stream' }),
        route({ id: 'ws', path: '/ws/**' }),
        route({ id: 'finance', path: '/api/finance/**', require: { groups: ['finance'] } }),
        route({
          id: 'monitored',
          path: '/api/monitored/**',
          decisions: { low: 'allow', medium: 'step_up', high: 'deny', critical: 'deny' },
          stepUp: { acr: 'urn:stepgate:acr:mfa', maxAgeSeconds: 300 },
          mode: 'monitor',
        }),
        route({
          id: 'monitored-finance',
          path: '/api/monitored-finance/**',
          require: { groups: ['finance'] },
          mode: 'monitor',
        }),
        ...c.policy.routes,
      ];
      return c;
    };
    const recordingLogger = {
      log: (message: unknown) => logLines.push(message),
      error() {},
      warn() {},
    };
    const runtime = env(gatewayPort);
    app = await createGatewayApp(runtime, recordingLogger, configure(loadGatewayConfig(runtime)));
    base = `http://127.0.0.1:${gatewayPort}`;

    // A second instance behind a trusted proxy (127.0.0.1), with one issuer whose key set is unreachable.
    const trustingRuntime = env(trustingPort);
    const trusting = configure(loadGatewayConfig(trustingRuntime));
    trusting.gateway.trustedProxies = ['127.0.0.1'];
    trusting.gateway.issuers.push({
      issuer: 'https://unreachable.test',
      jwksUri: `http://127.0.0.1:${await freePort()}/jwks.json`,
      audience: 'stepgate',
      algorithms: ['ES256'],
      jwksCooldownSeconds: 30,
    });
    // Nest's logger is process-wide: the same one for both instances.
    trustingApp = await createGatewayApp(trustingRuntime, recordingLogger, trusting);
  });

  afterAll(async () => {
    await app?.close();
    await trustingApp?.close();
    await issuer?.close();
    cookieSetter?.close();
    for (const s of [demo?.server, second?.server, challenge]) {
      s?.closeAllConnections();
      s?.close();
    }
  });

  describe('methods and hosts', () => {
    it('refuses unknown methods with 405 and Allow, before the upstream', async () => {
      const before = demo.counts.received;
      for (const method of ['PROPFIND', 'TRACE', 'PURGE', 'MKCOL']) {
        const r = await raw(gatewayPort, { method, path: '/api/reports/1', headers: await auth() });
        expect(r.status, method).toBe(405);
        expect(r.headers.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
      }
      // A method Node's parser does not know never becomes a request at all.
      expect(
        (await raw(gatewayPort, { method: 'BREW', path: '/api/reports/1' }).catch(() => null))?.status ?? 400,
      ).toBe(400);
      expect(demo.counts.received).toBe(before);
    });

    it('routes by the canonical host: case, trailing dot and default port do not matter', async () => {
      for (const host of ['second.test', 'SECOND.Test.', 'second.test:80']) {
        const r = await raw(gatewayPort, { path: '/x', headers: { ...(await auth()), host } });
        expect(r.status, host).toBe(200);
        expect(echo(r).path).toBe('/base/x');
        expect(echo(r).headers['x-forwarded-host']).toBe('second.test');
      }
      const other = await raw(gatewayPort, {
        path: '/x',
        headers: { ...(await auth()), host: 'second.test.evil' },
      });
      expect(other.status).toBe(404);
    });

    it('refuses an invalid Host', async () => {
      for (const host of ['a@second.test', 'second.test:99999', 'exa_mple.test']) {
        const r = await raw(gatewayPort, { path: '/api/reports/1', headers: { ...(await auth()), host } });
        expect(r.status, host).toBe(400);
      }
    });
  });

  describe('canonical request', () => {
    const forwarded = [
      '/api/reports/a',
      '/api//reports///b',
      '/api/./reports/c',
      '/api/x/../reports/d',
      '/api/reports/%65',
      '/api/reports/a%20b',
      '/api/reports/caf%C3%A9',
      '/api/reports/%F0%9F%98%80',
      "/api/reports/it's",
      '/api/reports/a+b',
      '/api/reports/%7Euser',
      '/api/reports/%2e%2e/reports/f',
      '/api/reports/a/./b/../c',
      '/api/reports/q?y=%2F&z=1',
      '/api/reports/%41%42',
      '/api/reports/%3F',
      '/api/reports/%23',
    ];
    const refused = [
      '/api/reports/..%2fadmin',
      '/api/reports/%2fadmin',
      '/api/reports/%5cadmin',
      '/api/reports\\admin',
      '/api/reports/%00',
      '/api/reports/..;/admin',
      '/api/reports/;x=1/e',
      '/api/reports/a;b=c',
      '/api/reports/a%3Bb=c',
      '/api/reports/%zz',
      '/api/reports/%0d%0a',
      '/../api/reports',
    ];

    it('forwards exactly the path the policy judged, over a corpus', async () => {
      for (const path of forwarded) {
        const r = await raw(gatewayPort, { path, headers: await auth() });
        expect(r.status, path).toBe(200);
        const received = echo(r).path;
        const receivedPath = received.split('?', 1)[0]!;
        const correlationId = String(r.headers['x-correlation-id']);
        const event = await eventually(
          async () => events.find((e) => e.correlationId === correlationId),
          `the access event of ${path}`,
        );
        // What the upstream got, decoded once, is the path the decision was made on; and it is what the
        // canonicaliser says, so there is no second interpretation anywhere.
        expect(decodeURIComponent(receivedPath), path).toBe(event.path);
        expect(receivedPath, path).toBe(canonicalTarget(path).upstreamPath);
        expect(event.route, path).toBe('reports');
      }
    });

    it('refuses what parsers disagree on, before the upstream', async () => {
      const before = demo.counts.received;
      for (const path of refused) {
        const r = await raw(gatewayPort, { path, headers: await auth() });
        expect(r.status, path).toBe(400);
      }
      expect(demo.counts.received).toBe(before);
    });
  });

  describe('oversized input', () => {
    it('answers 431 to oversized headers, before the upstream', async () => {
      const before = demo.counts.received;
      const r = await raw(gatewayPort, {
        path: '/api/reports/1',
        headers: { ...(await auth()), 'x-big': 'a'.repeat(20_000) },
      });
      expect(r.status).toBe(431);
      expect(demo.counts.received).toBe(before);
    });

    it('answers 413 to a declared oversized body without contacting the upstream', async () => {
      const before = demo.counts.received;
      const r = await new Promise<number>((resolve, reject) => {
        void auth().then((headers) => {
          const req = rawRequest(
            {
              host: '127.0.0.1',
              port: gatewayPort,
              agent: false,
              method: 'POST',
              path: '/api/reports/upload',
              headers: { ...headers, 'content-length': String(9 * 1024 * 1024) },
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.write(Buffer.alloc(64 * 1024));
        });
      });
      expect(r).toBe(413);
      expect(demo.counts.received).toBe(before);
    });

    it('answers 413 to a streamed body that grows past the limit; the upstream never gets it whole', async () => {
      const before = { ...demo.counts };
      const headers = await auth({ 'transfer-encoding': 'chunked' });
      const status = await new Promise<number>((resolve, reject) => {
        const req = rawRequest(
          {
            host: '127.0.0.1',
            port: gatewayPort,
            agent: false,
            method: 'POST',
            path: '/api/reports/upload',
            headers,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
            req.destroy();
          },
        );
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        const chunk = Buffer.alloc(256 * 1024, 1);
        let sent = 0;
        const pump = (): void => {
          while (sent < 9 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      expect(status).toBe(413);
      await eventually(async () => (demo.counts.aborted > before.aborted ? true : undefined), 'the abort');
      expect(demo.counts.completed).toBe(before.completed);
    });
  });

  describe('streaming', () => {
    it('streams a large request body to the upstream intact', async () => {
      const body = Buffer.alloc(6 * 1024 * 1024);
      for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
      const r = await raw(gatewayPort, {
        method: 'POST',
        path: '/api/reports/upload',
        headers: { ...(await auth()), 'content-type': 'application/octet-stream' },
        body,
      });
      expect(r.status).toBe(200);
      expect(echo(r).body).toEqual({
        bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
      });
    });

    it('streams a large response from the upstream', async () => {
      const res = await fetch(`${base}/stream?bytes=${48 * 1024 * 1024}`, { headers: await auth() });
      expect(res.status).toBe(200);
      let bytes = 0;
      let chunks = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        chunks++;
      }
      expect(bytes).toBe(48 * 1024 * 1024);
      expect(chunks).toBeGreaterThan(1);
    });
  });

  describe('WebSocket', () => {
    const connect = (path: string, headers: Record<string, string>) =>
      new Promise<{ ws?: WebSocket; status?: number; messages: string[] }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gatewayPort}${path}`, { headers });
        const messages: string[] = [];
        // Collect from the start: the upstream's greeting can arrive together with the 101.
        ws.on('message', (d: Buffer) => messages.push(d.toString()));
        ws.once('open', () => resolve({ ws, messages }));
        ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode, messages }));
        ws.once('error', reject);
      });

    it('judges the upgrade, then pipes an echo socket with the identity assertion', async () => {
      const { ws, messages } = await connect('/ws/echo', await auth({ 'x-stepgate-subject': 'root' }));
      expect(ws).toBeDefined();
      const hello = JSON.parse(await eventually(async () => messages[0], 'the greeting')) as {
        path: string;
        headers: Record<string, string>;
      };
      expect(hello.path).toBe('/ws/echo');
      expect(hello.headers['x-stepgate-assertion']).toMatch(/^ey/);
      expect(hello.headers['x-stepgate-subject']).toBeUndefined();
      expect(hello.headers['x-forwarded-for']).toBe('127.0.0.1');
      ws!.send('ping through the gateway');
      expect(await eventually(async () => messages[1], 'the echo')).toBe('ping through the gateway');
      ws!.close();
    });

    it("relays an upstream's 101 with its own cookies and the correlation id, never a StepGate cookie it sets", async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${gatewayPort}/ws-cookies`, { headers: await auth() });
      const answer = await new Promise<{ cookies: string[]; correlationId: unknown }>((resolve, reject) => {
        ws.once('upgrade', (res) =>
          resolve({
            cookies: res.headers['set-cookie'] ?? [],
            correlationId: res.headers['x-correlation-id'],
          }),
        );
        ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
        ws.once('error', reject);
      });
      ws.close();
      expect(answer.cookies).toEqual(['app=1; Path=/']);
      expect(answer.correlationId).toMatch(/^[0-9a-f-]{36}$/);
      const event = await eventually(
        async () => events.find((e) => e.correlationId === answer.correlationId),
        'the access event of the upgrade',
      );
      expect(event).toMatchObject({ route: 'ws-cookies', decision: 'allow', status: 101 });
    });

    it('refuses an upgrade without a valid token, and one on no route', async () => {
      expect((await connect('/ws/echo', {})).status).toBe(401);
      expect((await connect('/ws/echo', { authorization: 'Bearer nope' })).status).toBe(401);
      expect((await connect('/nowhere', await auth())).status).toBe(404);
    });
  });

  describe('several upstreams', () => {
    it('chooses the upstream by host and by path prefix, with the upstream base path', async () => {
      const beforeSecond = second.counts.completed;
      const byPrefix = await raw(gatewayPort, { path: '/svc/b/items?x=1', headers: await auth() });
      expect(echo(byPrefix).path).toBe('/base/svc/b/items?x=1');
      const toDemo = await raw(gatewayPort, { path: '/api/reports/1', headers: await auth() });
      expect(echo(toDemo).path).toBe('/api/reports/1');
      expect(second.counts.completed).toBe(beforeSecond + 1);
      const assertion = echo(byPrefix).headers['x-stepgate-assertion']!;
      expect(decodeJwt(assertion)).toMatchObject({ aud: 'second', route: 'second-prefix' });
      // Only an upstream that opted in sees the client's own token; the others get the assertion alone.
      expect(echo(byPrefix).headers.authorization).toMatch(/^Bearer /);
      expect(echo(toDemo).headers.authorization).toBeUndefined();
    });
  });

  describe('trusted proxies', () => {
    const riskSaw = (r: Answer) =>
      riskRequests.find((q) => q.correlationId === r.headers['x-correlation-id'])?.clientIp;

    it('ignores X-Forwarded-For when no proxy is trusted (the default)', async () => {
      const r = await raw(gatewayPort, {
        path: '/api/reports/1',
        headers: await auth({ 'x-forwarded-for': '6.6.6.6' }),
      });
      expect(riskSaw(r)).toBe('127.0.0.1');
      expect(echo(r).headers['x-forwarded-for']).toBe('127.0.0.1');
    });

    it('behind a trusted peer, takes the right-most untrusted entry', async () => {
      const r = await raw(trustingPort, {
        path: '/api/reports/1',
        headers: await auth({ 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 127.0.0.1' }),
      });
      expect(r.status).toBe(200);
      expect(riskSaw(r)).toBe('198.51.100.7');
      expect(echo(r).headers['x-forwarded-for']).toBe('198.51.100.7');
    });

    it('reads STEPGATE_TRUSTED_PROXIES and refuses what is not an address or block', () => {
      const env = (value: string) =>
        readRuntimeEnv({
          STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
          STEPGATE_TRUSTED_PROXIES: value,
        });
      expect(loadGatewayConfig(env('10.0.0.0/8, ::1')).gateway.trustedProxies).toEqual(['10.0.0.0/8', '::1']);
      expect(loadGatewayConfig(env('')).gateway.trustedProxies).toEqual([]);
      expect(() => loadGatewayConfig(env('10.0.0.0/33'))).toThrow(ConfigError);
      expect(() => loadGatewayConfig(env('proxy.internal'))).toThrow(ConfigError);
    });
  });

  describe('identity assertion', () => {
    it('signs who passed for the upstream; an upstream verifies it with the published JWKS', async () => {
      riskLevel = 'low';
      const r = await raw(gatewayPort, {
        path: '/api/reports/1',
        headers: await auth({ 'x-stepgate-assertion': 'forged' }),
      });
      const assertion = echo(r).headers['x-stepgate-assertion']!;
      expect(assertion).not.toBe('forged');
      // What docs/UPSTREAMS.md shows an upstream doing.
      const jwks = createRemoteJWKSet(new URL(`${base}/.stepgate/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(assertion, jwks, {
        issuer: 'urn:stepgate:gateway',
        audience: 'demo',
        typ: 'stepgate-assertion+jwt',
        algorithms: ['ES256'],
        maxTokenAge: '60s',
      });
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload).toMatchObject({
        sub: 'alice',
        acr: 'urn:stepgate:acr:basic',
        amr: ['pwd'],
        route: 'reports',
        risk: { score: 5, level: 'low' },
      });
      expect(typeof payload.auth_time).toBe('number');
      expect(typeof payload.jti).toBe('string');
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
    });

    it('an assertion for one upstream is refused by another', async () => {
      const r = await raw(gatewayPort, { path: '/api/reports/1', headers: await auth() });
      const jwks = createRemoteJWKSet(new URL(`${base}/.stepgate/jwks.json`));
      await expect(
        jwtVerify(echo(r).headers['x-stepgate-assertion']!, jwks, {
          issuer: 'urn:stepgate:gateway',
          audience: 'second',
        }),
      ).rejects.toThrow(/aud/);
    });
  });

  describe('policy', () => {
    it('lets only the required groups pass', async () => {
      riskLevel = 'low';
      const outsider = await raw(gatewayPort, { path: '/api/finance/1', headers: await auth() });
      expect(outsider.status).toBe(403);
      expect(JSON.parse(outsider.body)).toMatchObject({ reason: 'not in a required group' });
      const member = await raw(gatewayPort, {
        path: '/api/finance/1',
        headers: await auth({}, 'carol', { groups: ['staff', 'finance'] }),
      });
      expect(member.status).toBe(200);
    });

    it('in monitor mode computes, counts and events the decision, and forwards', async () => {
      riskLevel = 'high';
      const r = await raw(gatewayPort, { path: '/api/monitored/1', headers: await auth() });
      expect(r.status).toBe(200);
      const id = String(r.headers['x-correlation-id']);
      const event = await eventually(async () => events.find((e) => e.correlationId === id), 'the event');
      expect(event).toMatchObject({ decision: 'allow', reason: 'monitor: would deny (risk high)' });
      const metrics = await (await fetch(`${base}/.stepgate/metrics`)).text();
      expect(metrics).toMatch(
        /stepgate_gateway_monitor_would_have_total\{route="monitored",decision="deny"[^}]*\} [1-9]/,
      );
      riskLevel = 'low';
    });

    it('in monitor mode still refuses whom the route requires not to pass', async () => {
      const r = await raw(gatewayPort, { path: '/api/monitored-finance/1', headers: await auth() });
      expect(r.status).toBe(403);
      const member = await raw(gatewayPort, {
        path: '/api/monitored-finance/1',
        headers: await auth({}, 'carol', { groups: ['finance'] }),
      });
      expect(member.status).toBe(200);
    });
  });

  describe('browser sign-in and step-up', () => {
    const gw = () => `http://localhost:${gatewayPort}`;
    const browse = async (
      jar: Jar,
      url: string,
      init: { method?: string; body?: string; accept?: string; contentType?: string } = {},
    ) => {
      const headers: Record<string, string> = { accept: init.accept ?? 'text/html' };
      if (url.startsWith(gw()) && jar.cookies.size > 0) headers.cookie = jar.header();
      if (init.contentType) headers['content-type'] = init.contentType;
      const res = await fetch(url, {
        method: init.method ?? 'GET',
        headers,
        body: init.body,
        redirect: 'manual',
      });
      if (url.startsWith(gw())) jar.take(res);
      return res;
    };

    /** Sign in as `user` through the dev issuer's page; resolves with where the gateway sent us last. */
    async function signIn(jar: Jar, user: string, returnTo: string): Promise<Response> {
      const login = await browse(
        jar,
        `${gw()}/.stepgate/auth/login?return_to=${encodeURIComponent(returnTo)}`,
      );
      expect(login.status).toBe(303);
      const authorize = login.headers.get('location')!;
      expect(authorize.startsWith(`${issuerConfig.issuer}/authorize?`)).toBe(true);
      expect(new URL(authorize).searchParams.get('code_challenge_method')).toBe('S256');
      const page = await (await fetch(authorize)).text();
      expect(page).toContain('Development only');
      const form = new URLSearchParams();
      for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
        form.set(
          m[1]!,
          m[2]!.replace(/&#(\d+);/g, (_x, c: string) => String.fromCharCode(Number(c))),
        );
      form.set('username', user);
      const posted = await fetch(`${issuerConfig.issuer}/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        redirect: 'manual',
      });
      expect(posted.status).toBe(303);
      const callback = posted.headers.get('location')!;
      expect(callback.startsWith(`${gw()}/.stepgate/auth/callback?`)).toBe(true);
      return browse(jar, callback);
    }

    it('sends an unauthenticated browser to sign in, then back where it was going', async () => {
      const jar = new Jar();
      const first = await browse(jar, `${gw()}/api/reports/q3?x=1`);
      expect(first.status).toBe(303);
      expect(first.headers.get('location')).toBe(
        '/.stepgate/auth/login?return_to=%2Fapi%2Freports%2Fq3%3Fx%3D1',
      );

      const done = await signIn(jar, 'bob', '/api/reports/q3?x=1');
      expect(done.status).toBe(303);
      expect(done.headers.get('location')).toBe('/api/reports/q3?x=1');
      const sessionLine = done.headers.getSetCookie().find((c) => c.startsWith('__Host-stepgate-session='))!;
      expect(sessionLine).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
      expect(sessionLine).not.toContain('bob');

      const page = await browse(jar, `${gw()}/api/reports/q3?x=1`);
      expect(page.status).toBe(200);
      const seen = (await page.json()) as { headers: Record<string, string> };
      // The upstream sees who it is through the assertion, never StepGate's cookies.
      expect(decodeJwt(seen.headers['x-stepgate-assertion']!)).toMatchObject({
        sub: 'bob',
        route: 'reports',
      });
      expect(seen.headers.cookie ?? '').not.toContain('__Host-stepgate');
    });

    it.each([
      '//evil.com',
      '/\\evil.com',
      'https://evil.com',
      '%2F%2Fevil.com',
      '/%2F%2Fevil.com',
      '/%5Cevil.com',
    ])('never sends the browser off-origin after sign-in (return_to=%s)', async (returnTo) => {
      const done = await signIn(new Jar(), 'bob', returnTo);
      expect(done.headers.get('location')).toBe('/');
    });

    it('refuses a callback it did not start, or with a forged state', async () => {
      const stray = await fetch(`${gw()}/.stepgate/auth/callback?code=x&state=y`, { redirect: 'manual' });
      expect(stray.status).toBe(400);
      const jar = new Jar();
      const login = await browse(jar, `${gw()}/.stepgate/auth/login?return_to=/`);
      const state = new URL(login.headers.get('location')!).searchParams.get('state');
      const forged = await browse(
        jar,
        `${gw()}/.stepgate/auth/callback?code=x&state=${state}x&iss=${encodeURIComponent(issuerConfig.issuer)}`,
      );
      expect(forged.status).toBe(400);
    });

    it('steps a browser up, elevates its session on a passed challenge, and keeps tokens from the page', async () => {
      const jar = new Jar();
      await signIn(jar, 'dora', '/');
      riskLevel = 'medium';
      const redirect = await browse(jar, `${gw()}/api/payments/1?a=b`);
      expect(redirect.status).toBe(303);
      const location = redirect.headers.get('location')!;
      expect(location).toMatch(/^\/\.stepgate\/challenges\/[\w-]+\?return_to=%2Fapi%2Fpayments%2F1%3Fa%3Db$/);
      const challengePath = location.split('?')[0]!;
      const device = jar.cookies.get('__Host-stepgate-device')!;
      const oldSession = jar.cookies.get('__Host-stepgate-session')!;

      // An open-redirect attempt on the way out is refused: the browser goes to the root instead.
      const verified = await browse(
        jar,
        `${gw()}${challengePath}/verify?return_to=${encodeURIComponent('//evil.com')}`,
        {
          method: 'POST',
          accept: 'application/json',
          contentType: 'application/json',
          body: JSON.stringify({ method: 'totp', code: '123456' }),
        },
      );
      expect(verified.status).toBe(200);
      const text = await verified.text();
      expect(JSON.parse(text)).toEqual({ status: 'passed', return_to: '/' });
      expect(text).not.toContain('access_token');
      const sent = challengeSeen.filter((c) => c.method === 'POST').at(-1)!;
      expect(sent.device).toBe(device);
      expect(decodeJwt(sent.authorization!.slice(7)).sub).toBe('dora');
      // A new session (new id), replacing the old cookie, which is revoked.
      const newSession = jar.cookies.get('__Host-stepgate-session')!;
      expect(newSession).not.toBe(oldSession);
      const oldReplayed = await fetch(`${gw()}/api/reports/1`, {
        headers: { cookie: `__Host-stepgate-session=${oldSession}`, accept: 'application/json' },
      });
      expect(oldReplayed.status).toBe(401);

      const through = await browse(jar, `${gw()}/api/payments/1?a=b`);
      expect(through.status).toBe(200);
      const upstreamSaw = (await through.json()) as { headers: Record<string, string> };
      expect(decodeJwt(upstreamSaw.headers['x-stepgate-assertion']!)).toMatchObject({
        sub: 'dora',
        acr: 'urn:stepgate:acr:mfa',
        token_kind: 'stepup',
      });

      // A form post gets a 303 to its (same-origin) return_to instead of JSON.
      const form = await browse(jar, `${gw()}${challengePath}/verify?return_to=%2Fapi%2Fpayments%2F1`, {
        method: 'POST',
        contentType: 'application/json',
        body: JSON.stringify({ method: 'totp', code: '123456' }),
      });
      expect(form.status).toBe(303);
      expect(form.headers.get('location')).toBe('/api/payments/1');
      riskLevel = 'low';
    });

    it('refuses a session-borne state-changing request from another origin', async () => {
      riskLevel = 'low';
      const jar = new Jar();
      await signIn(jar, 'frank', '/');
      const post = (origin?: string) =>
        fetch(`${gw()}/api/reports/1`, {
          method: 'POST',
          headers: { cookie: jar.header(), 'content-type': 'text/plain', ...(origin ? { origin } : {}) },
          body: 'x',
        });
      const evil = await post('https://evil.example');
      expect(evil.status).toBe(403);
      expect(await evil.json()).toMatchObject({ error: 'cross_origin_request' });
      expect((await post()).status).toBe(403);
      expect((await post(gw())).status).toBe(200);
      // Reading stays possible from a link.
      expect((await browse(jar, `${gw()}/api/reports/1`)).status).toBe(200);
    });

    it('signs out only by a same-origin POST with the confirmation page token, and revokes the session', async () => {
      const jar = new Jar();
      await signIn(jar, 'erin', '/');
      const signedIn = jar.header();
      // A GET only asks (a link or an image on another site is a GET).
      const asked = await browse(jar, `${gw()}/.stepgate/auth/logout?return_to=//evil.com`);
      expect(asked.status).toBe(200);
      expect(asked.headers.get('content-security-policy')).toContain("form-action 'self'");
      const page = await asked.text();
      const token = /name="_csrf" value="([\w-]{43})"/.exec(page)![1]!;
      expect(page).toContain('action="/.stepgate/auth/logout?return_to=%2F"');
      expect(jar.cookies.has('__Host-stepgate-session')).toBe(true);
      const logout = (headers: Record<string, string>, body: string) =>
        fetch(`${gw()}/.stepgate/auth/logout?return_to=%2Fapi%2Freports%2F1`, {
          method: 'POST',
          headers: { cookie: signedIn, 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body,
          redirect: 'manual',
        });
      expect((await logout({ origin: 'https://evil.example' }, `_csrf=${token}`)).status).toBe(403);
      expect((await logout({}, `_csrf=${token}`)).status).toBe(403);
      expect((await logout({ origin: gw() }, '')).status).toBe(403);
      expect((await logout({ origin: gw() }, `_csrf=${'A'.repeat(43)}`)).status).toBe(403);
      expect((await browse(jar, `${gw()}/api/reports/1`)).status).toBe(200);

      const out = await logout({ origin: gw() }, `_csrf=${token}`);
      expect(out.status).toBe(303);
      expect(out.headers.get('location')).toBe('/.stepgate/auth/logout?return_to=%2Fapi%2Freports%2F1');
      jar.take(out);
      expect(jar.cookies.has('__Host-stepgate-session')).toBe(false);
      const signedOut = await browse(jar, `${gw()}${out.headers.get('location')!}`);
      expect(await signedOut.text()).toContain('href="/.stepgate/auth/login?return_to=%2Fapi%2Freports%2F1"');
      expect((await browse(jar, `${gw()}/api/reports/1`)).status).toBe(303);
      // The old cookie, replayed, is no session.
      const replayed = await fetch(`${gw()}/api/reports/1`, {
        headers: { cookie: signedIn, accept: 'application/json' },
      });
      expect(replayed.status).toBe(401);
    });

    it('ignores a forged session cookie', async () => {
      const r = await raw(gatewayPort, {
        path: '/api/reports/1',
        headers: { cookie: '__Host-stepgate-session=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..a.b.c' },
      });
      expect(r.status).toBe(401);
    });
  });

  describe('operations', () => {
    it('is ready once the issuers key sets are fetched and a policy version arrived; not while one is unreachable', async () => {
      const waiting = await fetch(`${base}/.stepgate/readyz`);
      expect(waiting.status).toBe(503);
      expect(await waiting.json()).toEqual({
        status: 'not_ready',
        reasons: ['no published policy version yet (risk publishes one at start on stepgate.policy.v1)'],
      });
      // What risk would publish: this gateway's own routes, as version 1.
      inProcessBroker.publish({
        topic: TOPICS.policyVersion,
        key: 'policy',
        value: JSON.stringify({
          lineage: '0123456789abcdef',
          version: 1,
          hash: '0'.repeat(64),
          document: { policy: app.get(GATEWAY_CONFIG).policy, risk: {} },
          author: 'spec',
          source: 'api',
          restores: null,
          comment: null,
          createdAt: new Date().toISOString(),
        }),
        headers: {},
      });
      await inProcessBroker.drain();
      expect((await fetch(`${base}/.stepgate/readyz`)).status).toBe(200);
      const notReady = await fetch(`http://127.0.0.1:${trustingPort}/.stepgate/readyz`);
      expect(notReady.status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${trustingPort}/.stepgate/healthz`)).status).toBe(200);
    });

    it('counts risk cache hits', async () => {
      const headers = await auth();
      await raw(gatewayPort, { path: '/api/reports/1', headers });
      await raw(gatewayPort, { path: '/api/reports/2', headers });
      const metrics = await (await fetch(`${base}/.stepgate/metrics`)).text();
      expect(metrics).toMatch(/stepgate_gateway_risk_cache_lookups_total\{result="hit"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/stepgate_gateway_risk_cache_hit_ratio(\{[^}]*\})? 0\.\d+/);
    });

    it('logs one structured line per request with its correlation id', async () => {
      const r = await raw(gatewayPort, { path: '/nowhere', headers: await auth() });
      const id = r.headers['x-correlation-id'];
      const line = await eventually(
        async () => logLines.find((l) => (l as { correlationId?: string }).correlationId === id),
        'the access log line',
      );
      expect(line).toMatchObject({
        msg: 'request',
        method: 'GET',
        path: '/nowhere',
        route: null,
        decision: 'deny',
        status: 404,
      });
      expect(typeof (line as { latencyMs: number }).latencyMs).toBe('number');
    });
  });
});
