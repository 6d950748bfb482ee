// The gateway alone, over the in-process bus with a scripted risk and challenge service: the ways such
// proxies get bypassed (tokens, paths, methods, headers) and what happens when risk does not answer.
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readRuntimeEnv } from '@stepgate/config';
import {
  REQUESTS,
  TOPICS,
  type AccessEvent,
  type AssessRiskRequest,
  type RiskLevel,
} from '@stepgate/contracts';
import { inProcessBroker } from '@stepgate/kafka';
import { generateProof } from 'dpop';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream } from '../../apps/demo-upstream/src/demo-upstream.server';
import type { DevIssuerConfig } from '../../apps/dev-issuer/src/config';
import { loadOrCreateDevIssuerKey, type DevIssuerKey } from '../../apps/dev-issuer/src/dev-issuer.keys';
import { startDevIssuer, type RunningServer } from '../../apps/dev-issuer/src/dev-issuer.server';
import { signDevToken } from '../../apps/dev-issuer/src/dev-token';
import { createGatewayApp } from '../../apps/gateway/src/gateway.bootstrap';
import { freePort, ROOT, eventually } from '../support/processes';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { request as rawRequest } from 'node:http';
import { connect } from 'node:net';
import { factories, openChallengeReply, scriptedRiskReply } from '../support/factories';

let riskLevel: RiskLevel | 'silent' = 'low';
/** When set, the scripted risk's level for a request (a stand-in for scoring what changed). */
let riskFor: ((req: AssessRiskRequest) => RiskLevel) | null = null;
const assessed: AssessRiskRequest[] = [];
const events: AccessEvent[] = [];

describe('gateway', () => {
  let app: NestFastifyApplication;
  let base: string;
  let issuer: RunningServer;
  let upstream: Server;
  let issuerConfig: DevIssuerConfig;
  let key: DevIssuerKey;
  let gatewayPort: number;
  const token = (sub = 'alice', claims: Record<string, unknown> = {}) =>
    signDevToken(issuerConfig, key, { sub, claims });

  beforeAll(async () => {
    const issuerPort = await freePort();
    const challengePort = await freePort();
    gatewayPort = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-gw-'));
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
    const demo = await startDemoUpstream('127.0.0.1', 0);
    upstream = demo.server;

    inProcessBroker.handle(REQUESTS.assessRisk, 'fake-risk', async (m) => {
      const req = JSON.parse(m.value) as AssessRiskRequest;
      assessed.push(req);
      if (riskLevel === 'silent') return new Promise(() => {});
      return scriptedRiskReply(req, riskFor ? riskFor(req) : riskLevel);
    });
    inProcessBroker.handle(REQUESTS.createChallenge, 'fake-challenge', async () => openChallengeReply());
    inProcessBroker.subscribe(TOPICS.access, 'recorder', async (m) => {
      events.push(JSON.parse(m.value) as AccessEvent);
    });

    const runtime = readRuntimeEnv({
      STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
      STEPGATE_DATA_DIR: dataDir,
      STEPGATE_GATEWAY_PORT: String(gatewayPort),
      STEPGATE_DEV_ISSUER_URL: issuerUrl,
      STEPGATE_DEV_ISSUER_JWKS: `${issuerUrl}/jwks.json`,
      STEPGATE_CHALLENGE_URL: `http://127.0.0.1:${challengePort}`,
      STEPGATE_CHALLENGE_JWKS: `http://127.0.0.1:${challengePort}/jwks.json`,
      STEPGATE_DEMO_UPSTREAM_URL: `http://127.0.0.1:${demo.port}`,
    });
    app = await createGatewayApp(runtime, { log() {}, error() {}, warn() {} });
    base = `http://127.0.0.1:${gatewayPort}`;
  });

  afterAll(async () => {
    await app?.close();
    await issuer?.close();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await fetch(base + path, { method, headers, redirect: 'manual' });
    const text = await res.text();
    if (process.env.DEBUG_GW) console.log(path, res.status, [...res.headers], text.slice(0, 300));
    return {
      status: res.status,
      headers: res.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const auth = async (extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${await token()}`,
    'x-device-id': 'd1',
    ...extra,
  });

  describe('tokens', () => {
    it('answers 401 with a Bearer challenge when there is no token', async () => {
      const r = await get('/api/reports/1');
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="stepgate"');
    });

    it.each([
      [
        'alg none',
        async () =>
          `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: issuerConfig.issuer, sub: 'alice', aud: 'stepgate', exp: 9e9 })).toString('base64url')}.`,
      ],
      [
        'a foreign key',
        async () => {
          const { privateKey } = await generateKeyPair('ES256');
          return new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'ES256', kid: key.kid })
            .setIssuer(issuerConfig.issuer)
            .setAudience('stepgate')
            .setExpirationTime('5m')
            .sign(privateKey);
        },
      ],
      [
        'HS256 keyed with the public key (key confusion)',
        async () => {
          const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
          return new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'HS256', kid: key.kid })
            .setIssuer(issuerConfig.issuer)
            .setAudience('stepgate')
            .setExpirationTime('5m')
            .sign(secret);
        },
      ],
      ['the wrong audience', async () => signWith(key.privateKey, key.kid, { aud: 'other' })],
      ['an unknown issuer', async () => signWith(key.privateKey, key.kid, { iss: 'https://evil.example' })],
      [
        'an expired token',
        async () => signWith(key.privateKey, key.kid, { exp: Math.floor(Date.now() / 1000) - 600 }),
      ],
      ['an ID token', async () => signWith(key.privateKey, key.kid, { nonce: 'n' })],
      [
        'a token whose jku points elsewhere',
        async () =>
          new SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'ES256', kid: 'x', jku: 'http://127.0.0.1:1/keys' })
            .setIssuer(issuerConfig.issuer)
            .setAudience('stepgate')
            .setExpirationTime('5m')
            .sign((await generateKeyPair('ES256')).privateKey),
      ],
      ['garbage', async () => 'not.a.jwt'],
      [
        'a typ that tries to inject headers',
        async () =>
          `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: key.kid, typ: 'x"\r\nSet-Cookie: pwned=1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: issuerConfig.issuer, sub: 'alice', aud: 'stepgate', exp: 9e9 })).toString('base64url')}.AAAA`,
      ],
    ])('refuses %s', async (_name, make) => {
      const r = await get('/api/reports/1', { authorization: `Bearer ${await make()}`, 'x-device-id': 'd1' });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(r.headers.get('set-cookie') ?? '').not.toContain('pwned');
      expect(r.headers.get('www-authenticate')).not.toMatch(/pwned|x"/);
    });

    function signWith(k: CryptoKey, kid: string, over: Record<string, unknown>): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuerConfig.issuer,
        aud: 'stepgate',
        sub: 'alice',
        iat: now,
        exp: now + 300,
        ...over,
      })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
        .sign(k);
    }
  });

  describe('paths and methods', () => {
    it('denies by default: a path no route covers', async () => {
      expect((await get('/internal/secret', await auth())).status).toBe(404);
    });

    it.each([
      '/api/reports/..%2f..%2fadmin',
      '/api/reports/%2e%2e/%2e%2e/x/..;/admin',
      '/api\\admin',
      '/api/reports/%00',
    ])('refuses %s with 400', async (path) => {
      const res = await new Promise<number>((resolve, reject) => {
        const req = rawRequest(
          { host: '127.0.0.1', port: gatewayPort, path, headers: { host: 'localhost' } },
          (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(res).toBe(400);
    });

    it('judges the path the upstream receives', async () => {
      const r = await get('/api/admin/../reports//q3', await auth());
      expect(r.status).toBe(200);
      expect(r.body.path).toBe('/api/reports/q3');
    });

    it('strips method-override headers and parameters', async () => {
      const r = await get(
        '/api/reports/1?_method=DELETE&x=1',
        await auth({ 'x-http-method-override': 'DELETE' }),
      );
      expect(r.status).toBe(200);
      expect(r.body.method).toBe('GET');
      expect(r.body.path).toBe('/api/reports/1?x=1');
      expect((r.body.headers as Record<string, string>)['x-http-method-override']).toBeUndefined();
    });

    it('refuses unknown methods with 405 and Allow', async () => {
      const r = await get('/api/reports/1', await auth(), 'PROPFIND');
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    });
  });

  describe('headers', () => {
    it('drops spoofed forwarding and identity headers and sets its own from the socket', async () => {
      const r = await get(
        '/api/reports/1',
        await auth({
          'x-forwarded-for': '1.2.3.4',
          forwarded: 'for=1.2.3.4',
          'x-real-ip': '1.2.3.4',
          'x-stepgate-subject': 'root',
          x_forwarded_for: '9.9.9.9',
          'x-user': 'root',
        }),
      );
      const h = r.body.headers as Record<string, string>;
      expect(h['x-forwarded-for']).toBe('127.0.0.1');
      expect(h.forwarded).toBeUndefined();
      expect(h['x-real-ip']).toBeUndefined();
      expect(h['x-stepgate-subject']).toBeUndefined();
      expect(h.x_forwarded_for).toBeUndefined();
      expect(h['x-user']).toBeUndefined();
    });

    it('refuses a malformed device id', async () => {
      expect((await get('/api/reports/1', await auth({ 'x-device-id': 'bad id' }))).status).toBe(400);
    });
  });

  describe('malformed requests (a security review)', () => {
    /** Sends bytes as they are and gives the whole answer (the gateway closes or answers in full). */
    const rawHttp = (request: Buffer): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(gatewayPort, '127.0.0.1', () => socket.end(request));
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      });
    const head = async (lines: (string | Buffer)[]) =>
      rawHttp(
        Buffer.concat([
          ...lines.map((l) => Buffer.concat([Buffer.from(l), Buffer.from('\r\n')])),
          Buffer.from('\r\n'),
        ]),
      );

    it('refuses a repeated Authorization, Host or Cookie with 400, whichever copy would have won', async () => {
      riskLevel = 'low';
      const bearer = `Bearer ${await token()}`;
      for (const [name, a, b] of [
        ['Authorization', bearer, bearer],
        ['Host', 'localhost', 'evil.example'],
        ['Cookie', 'a=1', '__Host-stepgate-session=x'],
      ]) {
        const answer = await head([
          'GET /api/reports/1 HTTP/1.1',
          ...(name === 'Host' ? [] : ['Host: localhost']),
          ...(name === 'Authorization' ? [] : [`Authorization: ${bearer}`]),
          'X-Device-Id: d1',
          `${name}: ${a}`,
          `${name}: ${b}`,
          'Connection: close',
        ]);
        expect(answer, name).toMatch(/^HTTP\/1\.1 400 /);
      }
    });

    it('refuses header values that are not UTF-8 with 400, and never forwards them', async () => {
      const answer = await head([
        'GET /api/reports/1 HTTP/1.1',
        'Host: localhost',
        `Authorization: Bearer ${await token()}`,
        'X-Device-Id: d1',
        Buffer.concat([Buffer.from('X-Note: '), Buffer.from([0xff, 0xfe])]),
        'Connection: close',
      ]);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('not UTF-8');
    });

    it('answers CONNECT with 405 and Allow instead of closing the connection', async () => {
      const answer = await head(['CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443']);
      expect(answer).toMatch(/^HTTP\/1\.1 405 /);
      expect(answer.toLowerCase()).toContain('allow: get, head, post');
    });

    it('refuses tokens with an auth_time or iat in the future, or an empty sub', async () => {
      riskLevel = 'medium';
      const now = Math.floor(Date.now() / 1000);
      for (const claims of [{ auth_time: now + 3600 }, { iat: now + 3600 }]) {
        const future = await new SignJWT({ acr: 'urn:stepgate:acr:mfa', auth_time: now, iat: now, ...claims })
          .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
          .setIssuer(issuerConfig.issuer)
          .setAudience('stepgate')
          .setSubject('alice')
          .setExpirationTime(now + 300)
          .sign(key.privateKey);
        const r = await get('/api/payments/1', { authorization: `Bearer ${future}`, 'x-device-id': 'd1' });
        expect(r.status, JSON.stringify(claims)).toBe(401);
        expect(r.headers.get('www-authenticate')).toContain('is in the future');
      }
      const nobody = await signDevToken(issuerConfig, key, { sub: '' });
      const r = await get('/api/reports/1', { authorization: `Bearer ${nobody}`, 'x-device-id': 'd1' });
      expect(r.status).toBe(401);
    });
  });

  describe('DPoP', () => {
    type KeyPair = { privateKey: CryptoKey; publicKey: CryptoKey };
    let keys: KeyPair;
    let other: KeyPair;
    let jkt: string;
    let bound: string;
    const url = (path: string) => `http://127.0.0.1:${gatewayPort}${path}`;
    const proof = (path: string, tok = bound, k = keys, method = 'GET') =>
      generateProof(k, url(path), method, undefined, tok);
    const dpop = async (path: string, extra: Record<string, string> = {}) =>
      get(path, { authorization: `DPoP ${bound}`, dpop: await proof(path), ...extra });

    beforeAll(async () => {
      keys = await generateKeyPair('ES256', { extractable: true });
      other = await generateKeyPair('ES256', { extractable: true });
      jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
      bound = await token(`dpop-${randomUUID()}`, { cnf: { jkt } });
    });

    it('serves a bound token with a proof of its key; the key is the device, whatever X-Device-Id says', async () => {
      riskLevel = 'low';
      const r = await dpop('/api/reports/1', { 'x-device-id': 'victims-laptop' });
      expect(r.status).toBe(200);
      const asked = assessed.at(-1)!;
      expect(asked).toMatchObject({ deviceId: `dpop:${jkt}`, deviceSource: 'dpop' });
      const echoed = (r.body as { headers: Record<string, string> }).headers;
      // Neither the token nor its proof travels on to the upstream.
      expect(echoed.authorization).toBeUndefined();
      expect(echoed.dpop).toBeUndefined();
    });

    it('refuses a bound token as a plain bearer', async () => {
      const r = await get('/api/reports/1', { authorization: `Bearer ${bound}`, 'x-device-id': 'd1' });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^DPoP realm="stepgate", error="invalid_token"/);
    });

    it('refuses a missing, replayed, malformed or misdirected proof with invalid_dpop_proof, never a 500', async () => {
      const once = await proof('/api/reports/1');
      const cases: [string, Record<string, string>][] = [
        ['no proof', { authorization: `DPoP ${bound}` }],
        ['garbage', { authorization: `DPoP ${bound}`, dpop: 'not.a.jwt' }],
        ['another path', { authorization: `DPoP ${bound}`, dpop: await proof('/api/reports/2') }],
        [
          'another method',
          { authorization: `DPoP ${bound}`, dpop: await proof('/api/reports/1', bound, keys, 'POST') },
        ],
        [
          'another key',
          { authorization: `DPoP ${bound}`, dpop: await proof('/api/reports/1', bound, other) },
        ],
        [
          'another token',
          { authorization: `DPoP ${bound}`, dpop: await proof('/api/reports/1', await token()) },
        ],
      ];
      expect((await get('/api/reports/1', { authorization: `DPoP ${bound}`, dpop: once })).status).toBe(200);
      cases.push(['a replay', { authorization: `DPoP ${bound}`, dpop: once }]);
      for (const [name, headers] of cases) {
        const r = await get('/api/reports/1', headers);
        expect(r.status, name).toBe(401);
        expect(r.headers.get('www-authenticate'), name).toMatch(
          /^DPoP realm="stepgate", error="invalid_dpop_proof"/,
        );
        expect(r.headers.get('www-authenticate'), name).toContain('algs="ES256');
      }
    });

    it('refuses a DPoP request whose token is not bound to a key', async () => {
      const plain = await token();
      const r = await get('/api/reports/1', {
        authorization: `DPoP ${plain}`,
        dpop: await proof('/api/reports/1', plain),
      });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^DPoP realm="stepgate", error="invalid_token"/);
    });

    it('asks a DPoP client for step-up in its own scheme', async () => {
      riskLevel = 'medium';
      const r = await dpop('/api/payments/1');
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(
        /^DPoP realm="stepgate", error="insufficient_user_authentication", .*acr_values="urn:stepgate:acr:mfa"/,
      );
    });
  });

  describe('risk decisions', () => {
    it('steps up with RFC 9470 when the route asks for it', async () => {
      riskLevel = 'medium';
      const r = await get('/api/payments/1', await auth({ 'x-device-id': `d-${randomUUID()}` }));
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe(
        'Bearer realm="stepgate", error="insufficient_user_authentication", error_description="step-up authentication required", acr_values="urn:stepgate:acr:mfa", max_age=300',
      );
      expect(r.body).toMatchObject({
        error: 'insufficient_user_authentication',
        // Plain reasons only: a signal's detail explains with the account's profile.
        risk: { score: 45, level: 'medium', reasons: ['an unusual context'] },
      });
      expect((r.body.challenge as { href: string }).href).toMatch(
        /^\/\.stepgate\/challenges\/[\w-]+\/verify$/,
      );
    });

    it('redirects a browser to the challenge page with a same-origin return_to', async () => {
      riskLevel = 'medium';
      const r = await get(
        '/api/payments/1?x=2',
        await auth({ 'x-device-id': `d-${randomUUID()}`, accept: 'text/html' }),
      );
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toMatch(
        /^\/\.stepgate\/challenges\/[\w-]+\?return_to=%2Fapi%2Fpayments%2F1%3Fx%3D2$/,
      );
    });

    it('denies at critical risk', async () => {
      riskLevel = 'critical';
      expect((await get('/api/reports/1', await auth({ 'x-device-id': `d-${randomUUID()}` }))).status).toBe(
        403,
      );
    });

    it('fails closed when risk does not answer in time, and open only where the route says so', async () => {
      riskLevel = 'silent';
      expect((await get('/api/payments/1', await auth({ 'x-device-id': `d-${randomUUID()}` }))).status).toBe(
        403,
      );
      expect((await get('/api/reports/1', await auth({ 'x-device-id': `d-${randomUUID()}` }))).status).toBe(
        200,
      );
    });

    it('dead-letters a malformed decision change instead of crashing its consumer', async () => {
      const marker = randomUUID();
      const deadLetters: string[] = [];
      inProcessBroker.subscribe(TOPICS.deadLetter, `dl-${marker}`, async (m) => {
        deadLetters.push(m.value);
      });
      inProcessBroker.publish({
        topic: TOPICS.decisionChange,
        key: 'alice',
        value: JSON.stringify({ subject: marker }),
        headers: {},
      });
      const dl = await eventually(async () => deadLetters.find((d) => d.includes(marker)), 'a dead letter');
      expect(JSON.parse(dl)).toMatchObject({
        topic: TOPICS.decisionChange,
        reason: expect.stringContaining('scope') as unknown,
      });
    });

    it('serves a cached decision until risk publishes a change for the subject, and only follows changes', async () => {
      const subject = `changes-${randomUUID()}`;
      const device = `d-${randomUUID()}`;
      const headers = {
        authorization: `Bearer ${await token(subject)}`,
        'x-device-id': device,
      };
      riskLevel = 'low';
      expect((await get('/api/payments/1', headers)).status).toBe(200);
      const asked = assessed.length;
      // Risk now sees it otherwise; the gateway still has its cached low and does not ask.
      riskLevel = 'medium';
      expect((await get('/api/payments/1', headers)).status).toBe(200);
      expect(assessed.length).toBe(asked);
      // An assessment on the old stream changes nothing: gateways do not follow every assessment any more.
      inProcessBroker.publish({
        topic: TOPICS.riskAssessment,
        key: subject,
        value: JSON.stringify(
          factories.assessment({ subject, deviceId: device, level: 'medium', score: 45 }),
        ),
        headers: {},
      });
      await new Promise((r) => setTimeout(r, 50));
      expect((await get('/api/payments/1', headers)).status).toBe(200);
      // The decision change for the subject and device drops the cached low: the next request is scored.
      inProcessBroker.publish({
        topic: TOPICS.decisionChange,
        key: subject,
        value: JSON.stringify(factories.decisionChange({ subject, deviceId: device, level: 'medium' })),
        headers: {},
      });
      const stepped = await eventually(async () => {
        const r = await get('/api/payments/1', headers);
        return r.status === 401 ? r : undefined;
      }, 'a step-up once the change arrived');
      expect(stepped.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
      expect(assessed.length).toBe(asked + 1);
      riskLevel = 'low';
    });

    it('never serves a cached decision to a request risk did not score: another browser is a miss', async () => {
      const CHROME =
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36';
      const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
      // Risk knows the victim's device with Chrome: anything else on it is medium.
      riskLevel = 'low';
      riskFor = (req) => (req.userAgent === CHROME ? 'low' : 'medium');
      try {
        const device = `d-${randomUUID()}`;
        const bearer = await auth({ 'x-device-id': device });
        const victim = await get('/api/payments/1', { ...bearer, 'user-agent': CHROME });
        expect(victim.status).toBe(200);
        const asked = assessed.length;
        // The same token and device id from another browser, and from no browser at all, on the same network.
        for (const agent of [FIREFOX, '']) {
          const attacker = await get('/api/payments/1', { ...bearer, 'user-agent': agent });
          expect(attacker.status, `user-agent "${agent}"`).toBe(401);
          expect(attacker.headers.get('www-authenticate')).toContain(
            'error="insufficient_user_authentication"',
          );
        }
        expect(assessed.length).toBe(asked + 2);
        // The victim's own context is still served from the cache.
        expect((await get('/api/payments/1', { ...bearer, 'user-agent': CHROME })).status).toBe(200);
        expect(assessed.length).toBe(asked + 2);
      } finally {
        riskFor = null;
      }
    });

    it("never serves a cached decision to another address, even in the victim's /24: risk reads the whole address", async () => {
      // Risk's bad-IP and trusted-network lists name single addresses, and geo reads the whole address: a
      // neighbour in the victim's /24 (here 127.0.0.2 beside 127.0.0.1) holding the victim's token, device id
      // and User-Agent is scored, never served the verdict made for the victim's address.
      riskLevel = 'low';
      riskFor = (req) => (req.clientIp === '127.0.0.1' ? 'low' : 'medium');
      const from = (localAddress: string, headers: Record<string, string>) =>
        new Promise<{ status: number; challenge: string | undefined }>((resolve, reject) => {
          const req = rawRequest(
            {
              host: '127.0.0.1',
              port: gatewayPort,
              path: '/api/payments/1',
              headers,
              localAddress,
              agent: false,
            },
            (res) => {
              res.resume();
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] }),
              );
            },
          );
          req.on('error', reject);
          req.end();
        });
      try {
        const headers = { ...(await auth({ 'x-device-id': `d-${randomUUID()}` })), 'user-agent': 'app/1.0' };
        expect((await from('127.0.0.1', headers)).status).toBe(200);
        const asked = assessed.length;
        const attacker = await from('127.0.0.2', headers);
        expect(attacker.status).toBe(401);
        expect(attacker.challenge).toContain('error="insufficient_user_authentication"');
        expect(assessed.length).toBe(asked + 1);
        expect(assessed.at(-1)?.clientIp).toBe('127.0.0.2');
        // The victim's own address is still served from the cache.
        expect((await from('127.0.0.1', headers)).status).toBe(200);
        expect(assessed.length).toBe(asked + 1);
      } finally {
        riskFor = null;
      }
    });

    it('asks a client without a device for step-up at its issuer (RFC 9470), without a challenge it cannot bind', async () => {
      riskLevel = 'medium';
      const r = await get('/api/payments/1', { authorization: `Bearer ${await token()}` });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('error="insufficient_user_authentication"');
      expect(r.body).toMatchObject({
        acr_values: 'urn:stepgate:acr:mfa',
        message: expect.stringContaining('DPoP'),
      });
      expect(r.body.challenge).toBeUndefined();
    });

    it("asks for the level's strength where the token is used: an mfa token does not pass at high", async () => {
      riskLevel = 'high';
      // An issuer's token with a fresh mfa sign-in (auth_time now).
      const mfa = await signDevToken(issuerConfig, key, { sub: 'alice', acr: 'urn:stepgate:acr:mfa' });
      const headers = { authorization: `Bearer ${mfa}`, 'x-device-id': `d-${randomUUID()}` };
      const r = await get('/api/payments/1', headers);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('acr_values="urn:stepgate:acr:phr"');
      expect(r.body).toMatchObject({ acr_values: 'urn:stepgate:acr:phr' });
      // At medium (another device: the first one's high is cached) the same token is enough, and the
      // access event says it passed on a step-up.
      riskLevel = 'medium';
      const device = `d-${randomUUID()}`;
      expect((await get('/api/payments/2', { ...headers, 'x-device-id': device })).status).toBe(200);
      const ev = await eventually(
        async () => events.find((e) => e.deviceId === device && e.path === '/api/payments/2'),
        'the access event',
      );
      expect(ev).toMatchObject({
        decision: 'allow',
        steppedUp: true,
        monitored: false,
        deviceSource: 'header',
      });
    });

    it('publishes one access event per request, whatever the outcome', async () => {
      riskLevel = 'low';
      const device = `d-${randomUUID()}`;
      await get('/api/reports/7', await auth({ 'x-device-id': device }));
      await get('/nowhere', await auth({ 'x-device-id': device }));
      const ev = await eventually(async () => {
        const mine = events.filter((e) => e.deviceId === device);
        return mine.length === 2 ? mine : undefined;
      }, 'two access events');
      expect(ev.map((e) => [e.path, e.decision, e.status]).sort()).toEqual([
        ['/api/reports/7', 'allow', 200],
        ['/nowhere', 'deny', 404],
      ]);
      expect(ev[0]!.subject).toBe('alice');
    });
  });
});
