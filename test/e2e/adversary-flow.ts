// Issue #11, tried as the attacker would: helpers for the adversary e2e specs. A client is a token plus what
// a request says about where it comes from (User-Agent, X-Device-Id, forwarded address, or a DPoP key);
// a victim is a subject whose device risk has confirmed through a real TOTP step-up. Requests go through
// undici's `request`, which sends exactly the headers given: no default User-Agent, unlike fetch.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateProof } from 'dpop';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { Secret, TOTP } from 'otpauth';
import { request } from 'undici';
import { expect } from 'vitest';
import { testKafkaBrokers } from '../support/env';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import {
  entry,
  eventually,
  freePorts,
  ROOT,
  startService,
  stepgateEnv,
  waitForHealthy,
  type Service,
} from '../support/processes';
import { devToken } from './step-up-flow';

export const UA = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  /** An API client that names itself and nothing else. */
  reportingBot: 'acme-reporting/2.4 (+https://acme.example/bot)',
} as const;

/** The decision cache lifetime the adversary suites run with: long enough to be hit, short enough to outlast. */
export const CACHE_TTL_SECONDS = 5;

// ---------------------------------------------------------------------------------------------------------
// StepGate under test

export interface Target {
  gateway: string;
  /** The risk service's private port (metrics). */
  risk: string;
  env: Record<string, string>;
  /** Edits the running config file as an editor saves it (a new file renamed over the old one). */
  editConfig(...changes: [from: string, to: string][]): void;
}

export interface Running {
  target: Target;
  stop(): Promise<void>;
}

/** A copy of config/stepgate.yaml with the given edits, in the run's data directory. */
function writeConfig(env: Record<string, string>, edits: [from: string, to: string][]): string {
  const file = join(env.STEPGATE_DATA_DIR!, 'stepgate.yaml');
  writeFileSync(file, edited(readFileSync(join(ROOT, 'config/stepgate.yaml'), 'utf8'), edits));
  return file;
}

function edited(text: string, edits: [from: string, to: string][]): string {
  for (const [from, to] of edits) {
    expect(text, `the config file to contain ${from}`).toContain(from);
    text = text.replace(from, to);
  }
  return text;
}

function targetOf(
  ports: { gateway: number; risk: number },
  env: Record<string, string>,
  file: string,
): Target {
  return {
    gateway: `http://127.0.0.1:${ports.gateway}`,
    risk: `http://127.0.0.1:${ports.risk}`,
    env,
    editConfig: (...changes) => {
      writeFileSync(`${file}.tmp`, edited(readFileSync(file, 'utf8'), changes));
      renameSync(`${file}.tmp`, file);
    },
  };
}

export interface StartOptions {
  /** Edits of the copied config file before start. */
  config?: [from: string, to: string][];
  env?: Record<string, string>;
}

const shortCache: [string, string] = ['cacheTtlSeconds: 60', `cacheTtlSeconds: ${CACHE_TTL_SECONDS}`];

/** `npm start`'s entry point: one process, in-process bus, SQLite or PostgreSQL. */
export async function startEmbedded(
  backend: 'sqlite' | 'postgres',
  opts: StartOptions = {},
): Promise<Running> {
  const ports = await freePorts();
  const db: TestDatabase | undefined = backend === 'postgres' ? await createTestDatabase() : undefined;
  const env = stepgateEnv(ports, { ...(db ? { DATABASE_URL: db.url } : {}), ...opts.env });
  const file = writeConfig(env, [shortCache, ...(opts.config ?? [])]);
  env.STEPGATE_CONFIG = file;
  const service = startService('stepgate', [entry('stepgate')], env);
  const target = targetOf(ports, env, file);
  try {
    await waitForHealthy(`${target.gateway}/.stepgate/healthz`, service);
    await policyInForce(target);
  } catch (err) {
    await service.stop();
    await db?.drop();
    throw err;
  }
  return {
    target,
    stop: async () => {
      await service.stop();
      await db?.drop();
    },
  };
}

/** Each service its own process over the Kafka protocol, as distributed.spec.ts runs them. */
export async function startDistributed(
  backend: 'sqlite' | 'postgres',
  opts: StartOptions = {},
): Promise<Running> {
  const ports = await freePorts();
  const db: TestDatabase | undefined = backend === 'postgres' ? await createTestDatabase() : undefined;
  const env = stepgateEnv(ports, {
    KAFKA_BROKERS: testKafkaBrokers(),
    KAFKA_MAX_WAIT_MS: '25',
    // Fresh consumer groups per run: the mock cluster delays a rejoin of a just-left group by a session timeout.
    STEPGATE_KAFKA_GROUP_PREFIX: `adversary-${backend}-${Date.now()}`,
    ...(process.env.KAFKA_BROKERS ? {} : { KAFKA_IDEMPOTENT: 'false' }),
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...opts.env,
  });
  const file = writeConfig(env, [shortCache, ...(opts.config ?? [])]);
  env.STEPGATE_CONFIG = file;
  const services: Service[] = [];
  const start = (name: string, app: string, health: string) => {
    const s = startService(name, [entry(app)], {
      ...env,
      STEPGATE_INSTANCE_ID: `adversary-${name}-${backend}`,
    });
    services.push(s);
    return waitForHealthy(health, s);
  };
  const stop = async () => {
    for (const s of services.reverse()) await s.stop();
    await db?.drop();
  };
  const target = targetOf(ports, env, file);
  try {
    await start('demo-upstream', 'demo-upstream', `http://127.0.0.1:${ports.upstream}/healthz`);
    await start('dev-issuer', 'dev-issuer', `http://127.0.0.1:${ports.issuer}/healthz`);
    await Promise.all([
      start('risk', 'risk', `${target.risk}/healthz`),
      start('challenge', 'challenge', `http://127.0.0.1:${ports.challenge}/healthz`),
    ]);
    await start('gateway', 'gateway', `${target.gateway}/.stepgate/healthz`);
    await policyInForce(target);
  } catch (err) {
    await stop();
    throw err;
  }
  return { target, stop };
}

async function metricsOf(url: string): Promise<string> {
  const res = await request(url);
  return res.body.text();
}

/** Sum of a Prometheus counter's series whose labels match. */
function counter(text: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})?\\s+(\\S+)$`).exec(line);
    if (m && labels.test(m[1] ?? '')) sum += Number(m[2]);
  }
  return sum;
}

/** The gateway answers under a published policy version (readyz), so the first requests are judged by it. */
async function policyInForce(target: Target): Promise<void> {
  await eventually(
    async () => ((await request(`${target.gateway}/.stepgate/readyz`)).statusCode === 200 ? true : undefined),
    'the gateway ready under a published policy version',
    60_000,
  );
}

/**
 * Risk has consumed every access event the gateway published so far: what it learns from them has been
 * learnt. (Risk learns asynchronously; this is the observable end of it, never a guess at a duration.)
 */
export async function learningSettled(target: Target): Promise<void> {
  await eventually(
    async () => {
      const gateway = await metricsOf(`${target.gateway}/.stepgate/metrics`);
      const risk = await metricsOf(`${target.risk}/metrics`);
      const published = counter(gateway, 'stepgate_gateway_access_events_total', /result="published"/);
      const inFlight = counter(gateway, 'stepgate_gateway_access_events_in_flight');
      const consumed = counter(
        risk,
        'stepgate_risk_messages_total',
        /topic="stepgate\.access\.v\d+".*outcome="(applied|ignored)"|outcome="(applied|ignored)".*topic="stepgate\.access\.v\d+"/,
      );
      return published > 0 && inFlight === 0 && consumed >= published ? true : undefined;
    },
    'risk consuming every access event the gateway published',
    30_000,
  );
}

/** Lets every decision the gateway cached so far expire: the next request is scored by risk again. */
export async function outlastDecisionCache(): Promise<void> {
  await sleep(CACHE_TTL_SECONDS * 1000 + 500);
}

// ---------------------------------------------------------------------------------------------------------
// Clients

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  wwwAuthenticate: string;
  json: Record<string, unknown>;
}

export interface DpopKey {
  keys: CryptoKeyPair;
  /** RFC 7638 SHA-256 thumbprint of the public key: the token's cnf.jkt. */
  jkt: string;
}

export async function dpopKey(): Promise<DpopKey> {
  const keys = await generateKeyPair('ES256', { extractable: true });
  return { keys, jkt: await calculateJwkThumbprint(await exportJWK(keys.publicKey)) };
}

export interface ClientContext {
  token: string;
  /** null: no User-Agent header at all. */
  userAgent: string | null;
  /** X-Device-Id; null: none. */
  device: string | null;
  /** X-Forwarded-For (believed only with STEPGATE_TRUSTED_PROXIES naming the loopback). */
  forwardedFor?: string;
  /** Present: `Authorization: DPoP` with a fresh proof of this key on every request. */
  dpop?: DpopKey;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Override the DPoP proof: a given value (garbage, a replay), or none at all. */
  proof?: string | null;
  /** Send the token under this scheme whatever the client's key says. */
  scheme?: 'Bearer' | 'DPoP';
}

export class Client {
  constructor(
    readonly gateway: string,
    readonly ctx: ClientContext,
  ) {}

  with(changes: Partial<ClientContext>): Client {
    return new Client(this.gateway, { ...this.ctx, ...changes });
  }

  /** A DPoP proof of this client's key for `method path` with its token (ath), as the gateway's URL. */
  async proof(path: string, method = 'GET', key: DpopKey | undefined = this.ctx.dpop): Promise<string> {
    if (!key) throw new Error('this client holds no DPoP key');
    return generateProof(key.keys, this.gateway + path.split('?', 1)[0], method, undefined, this.ctx.token);
  }

  async call(path: string, opts: CallOptions = {}): Promise<Answer> {
    const method = opts.method ?? 'GET';
    const headers: Record<string, string> = {};
    const scheme = opts.scheme ?? (this.ctx.dpop ? 'DPoP' : 'Bearer');
    headers.authorization = `${scheme} ${this.ctx.token}`;
    if (this.ctx.dpop && opts.proof === undefined) headers.dpop = await this.proof(path, method);
    else if (typeof opts.proof === 'string') headers.dpop = opts.proof;
    if (this.ctx.userAgent !== null) headers['user-agent'] = this.ctx.userAgent;
    if (this.ctx.device !== null) headers['x-device-id'] = this.ctx.device;
    if (this.ctx.forwardedFor) headers['x-forwarded-for'] = this.ctx.forwardedFor;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, opts.headers);
    return send(this.gateway + path, method, headers, opts.body);
  }
}

export async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const res = await request(url, {
    method: method as 'GET',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: Record<string, unknown>;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { text };
  }
  const www = res.headers['www-authenticate'];
  return {
    status: res.statusCode,
    headers: res.headers,
    wwwAuthenticate: Array.isArray(www) ? www.join(', ') : (www ?? ''),
    json,
  };
}

/** For failure messages: what the gateway answered (an upstream's echo shortened to what it was sent). */
export function described(a: Answer): string {
  const echoed = a.json.headers as Record<string, string> | undefined;
  const body =
    a.status === 200 && echoed && typeof a.json.path === 'string'
      ? `served by the upstream: ${String(a.json.path)}, user-agent ${JSON.stringify(echoed['user-agent'] ?? null)}, x-device-id ${JSON.stringify(echoed['x-device-id'] ?? null)}`
      : JSON.stringify(a.json).slice(0, 600);
  return `${a.status} ${a.wwwAuthenticate} ${body}`.replace(/\s+/g, ' ');
}

/** `expect`, or `expect.soft` where a spec wants every part of a finding reported at once. */
export type Check = typeof expect.soft;

/** An RFC 9470 step-up answer (Bearer or DPoP scheme), optionally for a given acr. */
export function expectStepUp(a: Answer, acr?: string, check: Check = expect): void {
  const challenge = `error="insufficient_user_authentication".*${acr ? `acr_values="${acr}"` : ''}`;
  check({ status: a.status, wwwAuthenticate: a.wwwAuthenticate }, described(a)).toMatchObject({
    status: 401,
    wwwAuthenticate: expect.stringMatching(new RegExp(challenge)),
  });
}

export function expectServed(a: Answer, check: Check = expect): void {
  check(a.status, described(a)).toBe(200);
}

/** A DPoP proof refused: 401 in the DPoP scheme with invalid_dpop_proof (never a 500). */
export function expectBadProof(a: Answer, check: Check = expect): void {
  check({ status: a.status, wwwAuthenticate: a.wwwAuthenticate }, described(a)).toMatchObject({
    status: 401,
    wwwAuthenticate: expect.stringMatching(/^DPoP .*error="invalid_dpop_proof"/),
  });
}

export function totpFor(secret: string, offsetSteps: number): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

// ---------------------------------------------------------------------------------------------------------
// A victim with history

export interface Victim {
  subject: string;
  token: string;
  /** The victim's own client: its token, device and browser. */
  client: Client;
  /** The TOTP-minted stepped-up token (acr mfa) the confirming step-up returned. */
  steppedUp: { access_token: string; token_type: string; acr: string };
  totpSecret: string;
}

/**
 * Walks a first step-up with TOTP as step-up-flow.ts does, so risk confirms the device, and waits until
 * payments is served to the victim without step-up. With a DPoP key, every request proves it (the
 * device is the key); the X-Device-Id it also sends is ignored.
 */
export async function confirmedVictim(
  target: Target,
  subject: string,
  ctx: Partial<Omit<ClientContext, 'token'>> = {},
): Promise<Victim> {
  const dpop = ctx.dpop;
  const token = devToken(target.env, subject, ...(dpop ? ['--dpop-jkt', dpop.jkt] : []));
  const client = new Client(target.gateway, {
    token,
    userAgent: UA.chromeWindows,
    device: `laptop-${subject}`,
    ...ctx,
  });
  expectServed(await client.call('/api/reports/q3'));
  expectStepUp(await client.call('/api/payments/42'));
  const enrolled = await eventually(async () => {
    const r = await client.call('/.stepgate/factors/totp', { method: 'POST', body: {} });
    return r.status === 201 ? r : undefined;
  }, `TOTP enrolment for ${subject}`);
  const { id, secret } = enrolled.json as { id: string; secret: string };
  const activated = await client.call(`/.stepgate/factors/totp/${id}/activate`, {
    method: 'POST',
    body: { code: totpFor(secret, 0) },
  });
  expect(activated.status, described(activated)).toBe(200);
  const asked = await client.call('/api/payments/42');
  expectStepUp(asked);
  const challenge = asked.json.challenge as { href: string; methods: string[] } | undefined;
  expect(challenge?.methods, described(asked)).toContain('totp');
  const passed = await client.call(challenge!.href, {
    method: 'POST',
    body: { method: 'totp', code: totpFor(secret, 1) },
  });
  expect(passed.status, described(passed)).toBe(200);
  const steppedUp = passed.json as Victim['steppedUp'];
  expect(steppedUp).toMatchObject({ token_type: dpop ? 'DPoP' : 'Bearer', acr: 'urn:stepgate:acr:mfa' });
  await eventually(
    async () => ((await client.call('/api/payments/42')).status === 200 ? true : undefined),
    `payments served to ${subject}'s confirmed device without step-up`,
  );
  return { subject, token, client, steppedUp, totpSecret: secret };
}

/** An administrator's view of a subject's profile through the gateway (fresh mfa dev token). */
export async function profileOf(target: Target, subject: string): Promise<Record<string, unknown>> {
  const admin = new Client(target.gateway, {
    token: devToken(target.env, 'admin', '--acr', 'urn:stepgate:acr:mfa'),
    userAgent: UA.chromeWindows,
    device: `console-${subject}`,
  });
  const r = await admin.call(`/.stepgate/admin/subjects/${encodeURIComponent(subject)}`);
  expect(r.status, described(r)).toBe(200);
  return r.json;
}

/**
 * A client's `risk.reasons` are plain: no addresses or networks, no "usual", no counts, no browser or OS
 * names, and none of the values risk has learnt for the subject (networks, places, browsers). Every leak is
 * listed in one failure.
 */
export function expectPlainReasons(answer: Answer, learnt: string[] = [], check: Check = expect): void {
  const risk = answer.json.risk as { reasons?: unknown } | undefined;
  const reasons = Array.isArray(risk?.reasons) ? (risk.reasons as unknown[]).map(String) : null;
  check(reasons, `risk.reasons in ${described(answer)}`).not.toBeNull();
  const patterns: [string, RegExp][] = [
    ['an IP address', /\b\d{1,3}(\.\d{1,3}){3}\b|\b[0-9a-f]{1,4}:[0-9a-f]{0,4}:/i],
    ['a CIDR', /\/\d{1,3}\b/],
    ['the profile ("usual")', /\busual\b/i],
    ['a count', /×|\bx\s*\d+\b|\b\d+\s*(times|accesses)\b/i],
    [
      'a browser or OS',
      /chrome|firefox|safari|\bedge\b|\bopera\b|windows|linux|mac\s?os|android|\bios\b|ubuntu/i,
    ],
  ];
  const leaks: string[] = [];
  for (const r of reasons ?? []) {
    for (const [what, pattern] of patterns) if (pattern.test(r)) leaks.push(`${what}: "${r}"`);
    for (const value of learnt.filter((v) => v.length >= 3))
      if (r.toLowerCase().includes(value.toLowerCase())) leaks.push(`the learnt value "${value}": "${r}"`);
  }
  check(leaks.join('\n'), `client reasons of ${answer.status} disclosing the profile`).toBe('');
}

/** Every feature value risk has learnt for a subject, from the admin profile. */
export function learntValues(profile: Record<string, unknown>): string[] {
  const features = (profile.features ?? {}) as Record<string, { value: string }[]>;
  return Object.values(features).flatMap((values) => values.map((v) => String(v.value)));
}
