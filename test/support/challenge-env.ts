// Harness for the challenge service specs (integration and browser): a stand-in OIDC issuer, the service from
// source on a temp config (the repository's own, with test settings), HTTP helpers, and message helpers
// standing in for the gateway.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConsoleLogger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { getDataSourceToken } from '@nestjs/typeorm';
import { readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import {
  REQUESTS,
  type CreateChallengeRequest,
  type DeviceStatus,
  type RiskAssessment,
} from '@stepgate/contracts';
import { TokenVerifier } from '@stepgate/identity';
import { RequestTimeoutError, type MessageBus } from '@stepgate/kafka';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { Secret, TOTP } from 'otpauth';
import type { DataSource } from 'typeorm';
import { expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { createChallengeApp } from '../../apps/challenge/src/challenge.bootstrap';
import { createTestDatabase, type TestDatabase } from './postgres';

export const MFA = 'urn:stepgate:acr:mfa';
export const PHR = 'urn:stepgate:acr:phr';
export const PERIOD_MS = 30_000;

export interface CallOptions {
  subject?: string;
  /** The access token's sid; null for a token without one. */
  sessionId?: string | null;
  token?: string;
  device?: string;
  body?: unknown;
  /** Sent as an HTML form would send it. */
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  text: string;
}

export interface TestEnv {
  url: string;
  runtime: RuntimeEnv;
  verifier: TokenVerifier;
  app: NestFastifyApplication;
  /** An access token of the stand-in issuer; `claims` adds to it (e.g. `cnf` for a DPoP-bound one). */
  accessToken(subject: string, sessionId?: string | null, claims?: Record<string, unknown>): Promise<string>;
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /** A subject with an active TOTP factor, activated with the code of step t0. */
  enrolActive(
    device: string,
    subject?: string,
  ): Promise<{ subject: string; secret: string; t0: number; factorId: string }>;
  /** Raw SQL on the service's database, values bound as parameters. */
  rows<T = Record<string, unknown>>(sql: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface EnvOptions {
  backend: 'sqlite' | 'postgres';
  brokers: string;
  firstFactorEnrolment: 'seen-device' | 'any-device';
  /** Listen here instead of a random port on 127.0.0.1 (browser tests need `localhost` for WebAuthn). */
  listen?: { host: string; port: number };
  /** Changes to the `challenge:` section after the test defaults. */
  challenge?: Record<string, unknown>;
}

export async function startEnv(options: EnvOptions): Promise<TestEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-challenge-'));
  const issuer = await startIssuer();
  const database: TestDatabase | undefined =
    options.backend === 'postgres' ? await createTestDatabase() : undefined;
  const configFile = join(dir, 'stepgate.yaml');
  writeFileSync(configFile, testConfig(issuer.url, options));
  const runtime = readRuntimeEnv({
    STEPGATE_CONFIG: configFile,
    STEPGATE_DATA_DIR: join(dir, 'data'),
    DATABASE_URL: database?.url,
    KAFKA_BROKERS: options.brokers,
    KAFKA_MAX_WAIT_MS: '25',
    KAFKA_IDEMPOTENT: 'false',
    STEPGATE_INSTANCE_ID: 'challenge-spec',
  });
  const logger = new ConsoleLogger('challenge', { logLevels: ['error'] });
  let app = await createChallengeApp(runtime, logger);
  let url = baseUrl(await app.getUrl(), options);
  const verifier = new TokenVerifier(
    [{ issuer: issuer.url, jwksUri: `${issuer.url}/jwks.json`, audience: 'stepgate', algorithms: ['ES256'] }],
    { issuer: 'urn:stepgate:challenge', audience: 'stepgate', jwks: `${url}/.stepgate/challenge/jwks.json` },
    30,
  );

  const env: TestEnv = {
    get url() {
      return url;
    },
    get app() {
      return app;
    },
    runtime,
    verifier,
    accessToken: (subject, sessionId = 'session-1', claims = {}) => issuer.sign(subject, sessionId, claims),
    async call(method, path, o = {}) {
      const token =
        o.token ??
        (o.subject
          ? await issuer.sign(o.subject, o.sessionId === undefined ? 'session-1' : o.sessionId)
          : undefined);
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.device) headers['x-device-id'] = o.device;
      let body: string | undefined;
      if (o.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(o.form).toString();
      } else if (o.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(o.body);
      }
      const res = await fetch(url + path, {
        method,
        headers: { ...headers, ...o.headers },
        body,
        redirect: 'manual',
      });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        json = {};
      }
      return { status: res.status, headers: res.headers, json, text };
    },
    async enrolActive(device, subject = `user-${randomUUID()}`) {
      const enrolled = await env.call('POST', '/.stepgate/factors/totp', { subject, device });
      expect(enrolled.status).toBe(201);
      const { id, secret } = enrolled.json as { id: string; secret: string };
      const t0 = Date.now();
      const activated = await env.call('POST', `/.stepgate/factors/totp/${id}/activate`, {
        subject,
        device,
        body: { code: codeAt(secret, t0) },
      });
      expect(activated.status).toBe(200);
      return { subject, secret, t0, factorId: id };
    },
    rows: <T>(sql: TemplateStringsArray, ...values: unknown[]) =>
      app.get<DataSource>(getDataSourceToken('challenge')).sql<T[]>(sql, ...values),
    async restart() {
      await app.close();
      app = await createChallengeApp(runtime, logger);
      url = baseUrl(await app.getUrl(), options);
    },
    async stop() {
      await app.close();
      await issuer.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

function baseUrl(appUrl: string, options: EnvOptions): string {
  return options.listen ? `http://${options.listen.host}:${options.listen.port}` : appUrl;
}

/** The repository's own config file, with the issuer pointed at the stand-in and a few test settings. */
function testConfig(issuerUrl: string, options: EnvOptions): string {
  const config = parse(readFileSync(resolve(__dirname, '../../config/stepgate.yaml'), 'utf8')) as {
    gateway: { issuers: { issuer: string; jwksUri: string }[] };
    challenge: Record<string, unknown>;
  };
  config.gateway.issuers = [
    { ...config.gateway.issuers[0]!, issuer: issuerUrl, jwksUri: `${issuerUrl}/jwks.json` },
  ];
  Object.assign(config.challenge, {
    http: options.listen ?? { host: '127.0.0.1', port: 0 },
    firstFactorEnrolment: options.firstFactorEnrolment,
    enrolment: { riskTimeoutMs: 200 },
    // Slow down after 6 consecutive failures (2 s, doubling), lock at 10.
    subjectLockout: {
      maxFailures: 10,
      windowSeconds: 900,
      freeFailures: 6,
      baseDelaySeconds: 2,
      maxDelaySeconds: 60,
    },
    ...options.challenge,
  });
  return stringify(config);
}

interface Issuer {
  url: string;
  sign(subject: string, sessionId: string | null, claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** A minimal OIDC issuer: an ES256 key, its JWKS over HTTP, and access tokens signed with it. */
async function startIssuer(): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'test-issuer', alg: 'ES256', use: 'sig' }] };
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/jwks.json' ? jwks : {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    sign: (subject, sessionId, claims) =>
      accessToken(privateKey, url, subject, sessionId, 'test-issuer', claims),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export function accessToken(
  key: CryptoKey,
  issuer: string,
  subject: string,
  sessionId: string | null,
  kid = 'test-issuer',
  claims: Record<string, unknown> = {},
): Promise<string> {
  // A token as a login produces it: the sign-in time is now.
  const authTime = Math.floor(Date.now() / 1000);
  return new SignJWT({
    ...claims,
    auth_time: authTime,
    ...(sessionId === null ? {} : { sid: sessionId }),
  })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience('stepgate')
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(key);
}

/** Passes a fresh challenge with the code of step t0+1 and returns the stepped-up token. */
export async function passChallenge(
  env: TestEnv,
  gateway: MessageBus,
  subject: string,
  device: string,
  secret: string,
  t0: number,
  over: Partial<CreateChallengeRequest> = {},
): Promise<string> {
  const { challengeId } = await openOrFail(gateway, subject, { deviceId: device, ...over });
  const passed = await env.call('POST', `/.stepgate/challenges/${challengeId}/verify`, {
    subject,
    device,
    body: { method: 'totp', code: codeAt(secret, t0 + PERIOD_MS) },
  });
  expect(passed.status).toBe(200);
  return passed.json.access_token as string;
}

export async function openOrFail(
  bus: MessageBus,
  subject: string,
  over: Partial<CreateChallengeRequest> = {},
) {
  const reply = await bus.request(REQUESTS.createChallenge, challengeRequest(subject, over), 5000);
  if (reply.status !== 'open') throw new Error(`challenge not opened: ${JSON.stringify(reply)}`);
  return reply;
}

export function challengeRequest(
  subject: string,
  over: Partial<CreateChallengeRequest> = {},
): CreateChallengeRequest {
  return {
    correlationId: randomUUID(),
    subject,
    sessionId: 'session-1',
    deviceId: 'laptop',
    route: 'payments',
    requiredAcr: MFA,
    maxAgeSeconds: 300,
    risk: {
      score: 45,
      level: 'medium',
      signals: [{ name: 'new_network', weight: 15, detail: 'first time from this network' }],
    },
    ...over,
  };
}

export function assessment(
  request: { subject: string; deviceId: string; correlationId: string },
  deviceStatus: DeviceStatus,
  over: Partial<RiskAssessment> = {},
): RiskAssessment {
  return {
    assessmentId: randomUUID(),
    time: new Date().toISOString(),
    correlationId: request.correlationId,
    causationId: null,
    subject: request.subject,
    deviceId: request.deviceId,
    score: 10,
    level: 'low',
    signals: [],
    deviceStatus,
    modelVersion: 'fake',
    ...over,
  };
}

function totp(secret: string): TOTP {
  return new TOTP({
    secret: Secret.fromBase32(secret),
    digits: 6,
    period: PERIOD_MS / 1000,
    algorithm: 'SHA1',
  });
}

/** A DPoP client's key as the gateway reports it: its thumbprint, and the headers of a verified DPoP request. */
export interface DpopClient {
  jkt: string;
  device: string;
  /** What the gateway forwards for a request with a valid proof of this key and `token`. */
  headers(token: string): Record<string, string>;
}

export async function dpopClient(): Promise<DpopClient> {
  const { publicKey } = await generateKeyPair('ES256');
  const jkt = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
  const device = `dpop:${jkt}`;
  return {
    jkt,
    device,
    headers: (token) => ({
      authorization: `DPoP ${token}`,
      'x-device-id': device,
      'x-stepgate-device-source': 'dpop',
      'x-stepgate-dpop-jkt': jkt,
    }),
  };
}

export const codeAt = (secret: string, timestamp: number): string => totp(secret).generate({ timestamp });

/** A six-digit code that is valid at none of the steps around `timestamp`. */
export function otherCode(secret: string, timestamp: number): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => codeAt(secret, timestamp + d * PERIOD_MS)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

export async function until<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function retryOnTimeout<T>(fn: () => Promise<T>, tries = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RequestTimeoutError) || i >= tries) throw err;
    }
  }
}
