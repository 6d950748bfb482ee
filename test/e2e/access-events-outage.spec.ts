// The gateway as a process against a Kafka that goes away: librdkafka's mock cluster of the spec's own, frozen
// with SIGSTOP (its connections stay open and nothing answers, as with a hung broker) and resumed with
// SIGCONT. Every request the gateway answered must have its access event on stepgate.access.v3 in the end:
// through a freeze under load, a start while the broker is down, a shutdown while it is down (the spill file,
// replayed by the next process), and a SIGTERM under load (the closing 503s included, when the short window
// between the signal and the listener's close catches any; test/integration/gateway-shutdown.spec.ts holds
// that window open).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS, type AccessEvent } from '@stepgate/contracts';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../apps/demo-upstream/src/demo-upstream.server';
import type { DevIssuerConfig } from '../../apps/dev-issuer/src/config';
import { loadOrCreateDevIssuerKey, type DevIssuerKey } from '../../apps/dev-issuer/src/dev-issuer.keys';
import { startDevIssuer, type RunningServer } from '../../apps/dev-issuer/src/dev-issuer.server';
import { signDevToken } from '../../apps/dev-issuer/src/dev-token';
import { SESSION_COOKIE, SessionCodec } from '../../apps/gateway/src/auth/session';
import { SESSION_KEY_FILE } from '../../apps/gateway/src/keys/gateway-keys';
import {
  entry,
  eventually,
  freePort,
  freePorts,
  startService,
  stepgateEnv,
  type Service,
} from '../support/processes';

interface FrozenKafka {
  brokers: string;
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** A mock cluster of this spec's own (test/support/kafka-mock.ts starts one the same way), with its pid. */
async function startMockKafka(): Promise<FrozenKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-outage-kafka-'));
  const log = join(dir, 'mock.log');
  const child: ChildProcess = spawn(
    'kcat',
    ['-X', 'test.mock.num.brokers=3', '-d', 'mock', '-b', 'x:1', '-C', '-t', 'keepalive', '-o', 'end'],
    { stdio: ['ignore', 'ignore', openSync(log, 'w')] },
  );
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const brokers = /bootstrap\.servers=(\S+)/.exec(readFileSync(log, 'utf8'))?.[1];
    if (brokers)
      return {
        brokers,
        freeze: () => child.kill('SIGSTOP'),
        thaw: () => child.kill('SIGCONT'),
        stop: async () => {
          child.kill('SIGCONT');
          child.kill('SIGTERM');
          await sleep(100);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`kcat mock cluster did not start; see ${log}`);
}

/** Every access event on the topic so far, read from the beginning with kcat (no consumer group). */
function accessEventsOn(brokers: string): AccessEvent[] {
  const out = spawnSync('kcat', ['-b', brokers, '-C', '-t', TOPICS.access, '-o', 'beginning', '-e', '-q'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 30_000,
  });
  return out.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AccessEvent);
}

/** Waits until every answered correlation id has an event on the topic; returns what is missing at the deadline. */
async function awaitEvents(
  brokers: string,
  answered: Map<string, number>,
  timeoutMs: number,
): Promise<{ events: AccessEvent[]; missing: string[]; ms: number }> {
  const started = Date.now();
  for (;;) {
    const events = accessEventsOn(brokers);
    const seen = new Set(events.map((e) => e.correlationId));
    const missing = [...answered.keys()].filter((c) => !seen.has(c));
    if (missing.length === 0 || Date.now() - started > timeoutMs)
      return { events, missing, ms: Date.now() - started };
    await sleep(1000);
  }
}

interface Load {
  /** Correlation id of every answered request, and its status. */
  answered: Map<string, number>;
  /** Requests that got no answer (connection refused or reset). */
  unanswered: number;
  stop(): Promise<void>;
}

/**
 * Anonymous requests at a steady rate over keep-alive connections, each from its own client address (a
 * trusted proxy's X-Forwarded-For), so the events spread over the topic's partitions.
 */
function startLoad(base: string, perSecond: number, agent: Agent): Load {
  const answered = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let unanswered = 0;
  let n = 0;
  const fire = () => {
    const i = n++;
    const sent = undiciFetch(`${base}/api/reports/${i}`, {
      headers: { 'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
      dispatcher: agent,
    })
      .then(async (res) => {
        await res.arrayBuffer();
        const id = res.headers.get('x-correlation-id');
        if (id) answered.set(id, res.status);
        else unanswered++;
      })
      .catch(() => {
        unanswered++;
      })
      .finally(() => pending.delete(sent));
    pending.add(sent);
  };
  const timer = setInterval(() => {
    for (let k = 0; k < perSecond / 50 && pending.size < 500; k++) fire();
  }, 20);
  return {
    answered,
    get unanswered() {
      return unanswered;
    },
    stop: async () => {
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
  };
}

/** A sample of the gateway's metric `name` whose labels include `label` (e.g. `result="spilled"`). */
async function metric(base: string, name: string, label = ''): Promise<number> {
  const text = await (await fetch(`${base}/.stepgate/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(label));
  return Number(line?.split(' ').at(-1) ?? 0);
}

async function waitForListening(base: string, service: Service, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (service.child.exitCode !== null)
      throw new Error(`${service.name} exited (${service.child.exitCode}):\n${service.output()}`);
    try {
      if ((await fetch(`${base}/.stepgate/healthz`)).ok) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${service.name} not listening within ${timeoutMs} ms:\n${service.output()}`);
}

/** SIGTERM and wait for the exit; how long it took. */
async function terminate(service: Service, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  process.kill(service.child.pid!, 'SIGTERM');
  while (service.child.exitCode === null && service.child.signalCode === null) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`${service.name} still running after SIGTERM:\n${service.output().slice(-5000)}`);
    await sleep(50);
  }
  return Date.now() - started;
}

const spilled = (dataDir: string) =>
  readdirSync(dataDir)
    .filter((d) => d.startsWith('access-spill'))
    .flatMap((d) => readdirSync(join(dataDir, d)).filter((f) => f.endsWith('.spill')));

describe('access events through broker outages (gateway process, mock Kafka frozen with SIGSTOP)', () => {
  let issuer: RunningServer;
  let issuerConfig: DevIssuerConfig;
  let key: DevIssuerKey;
  let upstream: DemoUpstream;
  const services: Service[] = [];
  const kafkas: FrozenKafka[] = [];
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });

  beforeAll(async () => {
    const issuerPort = await freePort();
    issuerConfig = {
      http: { host: '127.0.0.1', port: issuerPort },
      issuer: `http://127.0.0.1:${issuerPort}`,
      backchannelUrl: '',
      audience: 'stepgate',
      tokenTtlSeconds: 600,
      groups: {},
    };
    key = await loadOrCreateDevIssuerKey(mkdtempSync(join(tmpdir(), 'stepgate-outage-issuer-')));
    issuer = await startDevIssuer(issuerConfig, key);
    upstream = await startDemoUpstream('127.0.0.1', 0);
  });

  afterAll(async () => {
    for (const s of services) await s.stop('SIGKILL');
    for (const k of kafkas) await k.stop();
    await issuer?.close();
    upstream?.server.closeAllConnections();
    upstream?.server.close();
    await agent.close();
  });

  /** A gateway process on `kafka`, its events partly spilled: a small memory buffer. */
  async function gateway(kafka: FrozenKafka, name: string, dataDir?: string) {
    const ports = await freePorts();
    const env = stepgateEnv(ports, {
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_MAX_WAIT_MS: '25',
      KAFKA_IDEMPOTENT: 'false',
      STEPGATE_KAFKA_GROUP_PREFIX: `outage-${Date.now()}`,
      STEPGATE_INSTANCE_ID: name,
      STEPGATE_TRUSTED_PROXIES: '127.0.0.1',
      STEPGATE_ACCESS_EVENTS_MEMORY: '2000',
      STEPGATE_DEV_ISSUER_URL: issuerConfig.issuer,
      STEPGATE_DEV_ISSUER_JWKS: `${issuerConfig.issuer}/jwks.json`,
      STEPGATE_DEMO_UPSTREAM_URL: `http://127.0.0.1:${upstream.port}`,
      ...(dataDir ? { STEPGATE_DATA_DIR: dataDir } : {}),
    });
    const service = startService(name, [entry('gateway')], env);
    services.push(service);
    return { service, base: `http://127.0.0.1:${ports.gateway}`, dataDir: env.STEPGATE_DATA_DIR! };
  }

  it(
    'loses no access event while the broker is frozen for 60 s under 250 requests/s',
    { timeout: 300_000 },
    async () => {
      const kafka = await startMockKafka();
      kafkas.push(kafka);
      const gw = await gateway(kafka, 'gw-freeze');
      await waitForListening(gw.base, gw.service);
      // Warm: the producer connected and the topic exists.
      const warm = startLoad(gw.base, 50, agent);
      await sleep(1000);
      await warm.stop();
      expect(warm.answered.size).toBeGreaterThan(20);
      expect((await awaitEvents(kafka.brokers, warm.answered, 30_000)).missing).toEqual([]);

      const load = startLoad(gw.base, 250, agent);
      await sleep(5000);
      kafka.freeze();
      const frozenAt = Date.now();
      await sleep(60_000);
      const spilledBytes = await metric(gw.base, 'stepgate_gateway_access_spill_bytes');
      kafka.thaw();
      const thawedAt = Date.now();
      // Caught up: the spill file is empty again (new events queue behind it while it is not).
      let drainedMs = -1;
      while (Date.now() - thawedAt < 10_000) {
        if (drainedMs < 0 && (await metric(gw.base, 'stepgate_gateway_access_spill_events')) === 0)
          drainedMs = Date.now() - thawedAt;
        await sleep(250);
      }
      await load.stop();

      const { events, missing, ms } = await awaitEvents(kafka.brokers, load.answered, 120_000);
      const ids = new Set(events.map((e) => e.eventId));
      const results = {
        answered: load.answered.size,
        unanswered: load.unanswered,
        statuses: [...new Set(load.answered.values())],
        onTopic: events.length,
        distinctEventIds: ids.size,
        missing: missing.length,
        spilledBytesDuringFreeze: spilledBytes,
        spilled: await metric(gw.base, 'stepgate_gateway_access_events_total', 'result="spilled"'),
        dropped: await metric(gw.base, 'stepgate_gateway_access_events_total', 'result="dropped"'),
        failed: await metric(gw.base, 'stepgate_gateway_access_events_total', 'result="failed"'),
        freezeSeconds: (thawedAt - frozenAt) / 1000,
        spillDrainedMsAfterThaw: drainedMs,
        caughtUpMsAfterLoad: ms,
      };
      console.log('freeze under load:', JSON.stringify(results));
      expect(missing).toEqual([]);
      expect(results.dropped).toBe(0);
      expect(results.spilled).toBeGreaterThan(0);
      expect(load.unanswered).toBe(0);
      // Published from the file, which is then deleted but for the segment still open.
      expect(await metric(gw.base, 'stepgate_gateway_access_spill_events')).toBe(0);
      expect(gw.service.output()).not.toMatch(/dropped \d+ access events/);
    },
  );

  it(
    'starts and serves while the broker is down, spills at shutdown, and the next process publishes it',
    { timeout: 300_000 },
    async () => {
      const kafka = await startMockKafka();
      kafkas.push(kafka);
      kafka.freeze();

      const first = await gateway(kafka, 'gw-down-1');
      const listenedIn = await waitForListening(first.base, first.service);
      const token = await signDevToken(issuerConfig, key, { sub: 'outage-alice' });
      const answered = new Map<string, number>();
      const ask = async (path: string, headers: Record<string, string> = {}) => {
        const started = Date.now();
        const res = await fetch(first.base + path, { headers });
        await res.arrayBuffer();
        answered.set(res.headers.get('x-correlation-id')!, res.status);
        return { status: res.status, ms: Date.now() - started };
      };
      const auth = { authorization: `Bearer ${token}`, 'x-device-id': 'laptop' };
      const anonymous = await ask('/api/reports/1');
      // reports: onRiskUnavailable allow; payments: deny. Risk cannot be asked: at once, not after its timeout.
      const allowed = await ask('/api/reports/2', auth);
      const denied = await ask('/api/payments/3', auth);
      for (let i = 0; i < 20; i++) await ask(`/api/reports/${10 + i}`);
      console.log(
        'started without the broker:',
        JSON.stringify({ listenedInMs: listenedIn, anonymous, allowed, denied }),
      );
      // It waited for the broker (10 s), then listened without it: it is serving while the broker is frozen.
      expect(anonymous.status).toBe(401);
      expect(allowed.status).toBe(200);
      expect(denied.status).toBe(403);
      // Risk could not be asked, and that was known at once: no request waited out the risk budget.
      expect(await metric(first.base, 'stepgate_gateway_risk_requests_total', 'result="timeout"')).toBe(0);

      // A browser session made before this gateway started may have been signed out since, and the gateway
      // cannot read the revocations while the broker is frozen: it refuses the session (fail closed).
      const { key: sessionKey } = JSON.parse(readFileSync(join(first.dataDir, SESSION_KEY_FILE), 'utf8')) as {
        key: string;
      };
      const codec = new SessionCodec(Buffer.from(sessionKey, 'base64'), {
        idleTimeoutSeconds: 1800,
        absoluteTimeoutSeconds: 43_200,
      });
      const nowSeconds = Math.floor(Date.now() / 1000);
      const older = codec.newSession(
        { sub: 'outage-alice', accessToken: token, stepUpToken: null, acr: null, authTime: null },
        nowSeconds,
        nowSeconds - 600,
      );
      const cookie = `${SESSION_COOKIE}=${await codec.seal(older)}`;
      const withSession = async () => {
        const res = await fetch(`${first.base}/api/reports/40`, {
          headers: { cookie, accept: 'application/json' },
        });
        await res.arrayBuffer();
        // Its access event is waited for with the others below.
        answered.set(res.headers.get('x-correlation-id')!, res.status);
        return res;
      };
      expect((await withSession()).status).toBe(401);
      expect(await (await fetch(`${first.base}/.stepgate/readyz`)).text()).toContain(
        'session revocations not read yet',
      );

      kafka.thaw();
      // Once the revocations are read the session, never revoked, is accepted again.
      await eventually(
        async () => ((await withSession()).status === 200 ? true : undefined),
        'the older session accepted once the revocations were read',
        120_000,
      );
      const caught = await awaitEvents(kafka.brokers, answered, 120_000);
      console.log('after the broker returned:', JSON.stringify({ answered: answered.size, ms: caught.ms }));
      expect(caught.missing).toEqual([]);

      // Down again: what the gateway answers now is still in memory when it is told to stop.
      kafka.freeze();
      const later = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        const res = await fetch(`${first.base}/api/reports/${100 + i}`);
        await res.arrayBuffer();
        later.set(res.headers.get('x-correlation-id')!, res.status);
      }
      const stoppedIn = await terminate(first.service);
      expect(first.service.output()).toMatch(/30 access events stay in/);
      expect(spilled(first.dataDir).length).toBeGreaterThan(0);

      // The next process on the same data directory starts while the broker is still down, serves, and
      // publishes what the first left once it returns.
      const second = await gateway(kafka, 'gw-down-2', first.dataDir);
      await waitForListening(second.base, second.service);
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${second.base}/api/reports/${200 + i}`);
        await res.arrayBuffer();
        later.set(res.headers.get('x-correlation-id')!, res.status);
      }
      kafka.thaw();
      const replayed = await awaitEvents(kafka.brokers, later, 120_000);
      console.log(
        'spilled at shutdown, replayed by the next process:',
        JSON.stringify({ stoppedInMs: stoppedIn, answered: later.size, ms: replayed.ms }),
      );
      expect(replayed.missing).toEqual([]);
      expect(second.service.output()).toMatch(/30 access events .* from an earlier run to publish/);
      await terminate(second.service);
    },
  );

  it(
    'on SIGTERM under load publishes an access event for every answered request, the closing 503s too',
    { timeout: 120_000 },
    async () => {
      const kafka = await startMockKafka();
      kafkas.push(kafka);
      const gw = await gateway(kafka, 'gw-sigterm');
      await waitForListening(gw.base, gw.service);
      const warm = startLoad(gw.base, 50, agent);
      await sleep(1000);
      await warm.stop();
      expect(warm.answered.size).toBeGreaterThan(20);
      expect((await awaitEvents(kafka.brokers, warm.answered, 30_000)).missing).toEqual([]);

      const load = startLoad(gw.base, 300, agent);
      await sleep(5000);
      const stoppedIn = terminate(gw.service);
      // Kept sending through the shutdown: on open connections until they close, then refused.
      const ms = await stoppedIn;
      await load.stop();

      const statuses = [...load.answered.values()];
      const { events, missing } = await awaitEvents(kafka.brokers, load.answered, 60_000);
      const refused = events.filter((e) => e.reason === 'shutting_down').length;
      console.log(
        'SIGTERM under load:',
        JSON.stringify({
          answered: load.answered.size,
          closing503s: statuses.filter((s) => s === 503).length,
          eventsOfRefusals: refused,
          unanswered: load.unanswered,
          onTopic: events.length,
          missing: missing.length,
          stoppedInMs: ms,
        }),
      );
      expect(missing).toEqual([]);
      expect(statuses.filter((s) => s === 503).length).toBe(refused);
      expect(gw.service.output()).not.toMatch(
        /producer is disconnected|not published|dropped \d+ access events/,
      );
      expect(gw.service.output()).not.toMatch(/stay in/);
    },
  );
});
