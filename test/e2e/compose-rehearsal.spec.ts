// A rehearsal of `docker compose up` on a fresh clone, without Docker: docker-compose.yml and the Dockerfile's
// runtime ENV are read as Docker reads them, interpolated with no .env and nothing exported (only the public
// ports, moved off their defaults to prove the browser URLs follow them), and every StepGate service is
// started as a process with exactly its container's environment and command, in depends_on order, each
// waited for by its own compose healthcheck. What Docker would provide is stood in for, and only that:
//   - service names resolve to 127.0.0.1 (rewritten in the environment's URLs), `kafka:9092` is the test's Kafka
//     (librdkafka's mock cluster, which also needs KAFKA_IDEMPOTENT=false and a short fetch wait), `postgres` the
//     test PostgreSQL (trust auth; the compose role and databases are created and dropped here);
//   - named volumes are temporary directories, /app is the repository (its dist/ and config/ are the image's);
//   - published ports are TCP forwarders on 127.0.0.1, as Docker's proxy would be;
//   - kafka-topics (Kafka's own CLI) does not run: the mock auto-creates topics.
// Then the README's compose walkthrough: a token from the dev issuer's container, reports 200, payments
// step-up with TOTP, the admin API, and browser sign-in through the published ports.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ComposeInterpolationError,
  dockerfileEnv,
  interpolate,
  loadCompose,
  mountOf,
  publishedPort,
  type ComposeFile,
  type ComposeService,
} from '../support/compose';
import { startOwnKafka, type KafkaForTests } from '../support/kafka-mock';
import { postgresAvailable } from '../support/postgres';
import { freePort, ROOT, startService, type Service } from '../support/processes';
import { walkStepUpFlow } from './step-up-flow';

const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const DOCKERFILE = join(ROOT, 'Dockerfile');
/** The containers that are not StepGate's and what stands in for them. */
const PROVIDED = new Set(['kafka', 'postgres', 'kafka-topics']);
const COMPOSE_DATABASES = ['stepgate_risk', 'stepgate_challenge', 'stepgate_gateway', 'stepgate'];

interface Stack {
  compose: ComposeFile;
  env: (name: string) => Record<string, string>;
  volumes: Map<string, string>;
}

/** What a host process needs in place of Docker's network and volumes, given the compose file. */
function stackFor(compose: ComposeFile, kafkaBrokers: string): Stack {
  const image = dockerfileEnv(DOCKERFILE);
  const names = Object.keys(compose.services);
  const volumes = new Map(
    Object.keys(compose.volumes ?? {}).map((v) => [v, mkdtempSync(join(tmpdir(), `compose-${v}-`))]),
  );
  const ownLayer = new Map<string, string>();
  const host = (value: string): string => {
    if (value === 'kafka:9092') return kafkaBrokers;
    if (names.includes(value)) return '127.0.0.1';
    // A service name as the host of a URL (`http://risk:8081`, `...@postgres:5432/db`).
    return value.replace(/(?<=\/\/|@)([a-z][a-z0-9-]*)(?=[:/]|$)/g, (h: string) =>
      names.includes(h) ? '127.0.0.1' : h,
    );
  };
  const env = (name: string): Record<string, string> => {
    const service = compose.services[name]!;
    // Paths in the container: its volumes, else its own writable layer under /app/data, else the image.
    const mounts = (service.volumes ?? []).map(mountOf).map((m) => ({
      target: m.target,
      dir: volumes.get(m.source) ?? m.source,
    }));
    if (!ownLayer.has(name)) ownLayer.set(name, mkdtempSync(join(tmpdir(), `compose-${name}-layer-`)));
    if (!mounts.some((m) => m.target === '/app/data'))
      mounts.push({ target: '/app/data', dir: ownLayer.get(name)! });
    mounts.push({ target: '/app', dir: ROOT });
    const path = (value: string): string => {
      const mount = mounts.find((m) => value === m.target || value.startsWith(`${m.target}/`));
      return mount ? mount.dir + value.slice(mount.target.length) : value;
    };
    const declared = Object.fromEntries(
      Object.entries(service.environment ?? {}).filter((e): e is [string, string] => e[1] !== null),
    );
    // The Dockerfile's ENV only for the containers of our image (postgres-init runs postgres's).
    const merged = { ...(service.build !== undefined ? image : {}), ...declared };
    return {
      ...Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, path(host(v))])),
      // The node image's PATH (not in our Dockerfile), and what the mock cluster needs of its clients.
      PATH: process.env.PATH ?? '',
      ...(process.env.KAFKA_BROKERS ? {} : { KAFKA_IDEMPOTENT: 'false', KAFKA_MAX_WAIT_MS: '25' }),
    };
  };
  return { compose, env, volumes };
}

/** The argv of a compose entrypoint + command, `node` being this Node. */
function argvOf(service: ComposeService): string[] {
  const argv = [...(service.entrypoint ?? []), ...(service.command ?? [])];
  return argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv;
}

/** Runs a service's compose healthcheck once: 0 is healthy. */
function healthcheckPasses(service: ComposeService, env: Record<string, string>): Promise<boolean> {
  const [kind, ...rest] = service.healthcheck!.test;
  const argv = kind === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : rest;
  const [command, ...args] = argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv;
  return new Promise((resolve) => {
    const child = spawn(command!, args, { env, cwd: ROOT, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
    child.on('error', () => resolve(false));
  });
}

/** Docker's port publishing: a TCP forwarder from the host port to the container's. */
async function publish(hostIp: string, hostPort: number, containerPort: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: containerPort });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  // Compose's `8080:8080` binds every interface; loopback is all a test needs (and all it should open).
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(hostPort, hostIp === '0.0.0.0' ? '127.0.0.1' : hostIp, resolve);
  });
  return server;
}

async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '0.0.0.0', () => probe.close(() => resolve(true)));
  });
}

async function preparePostgres(admin: string, password: string): Promise<void> {
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    for (const db of COMPOSE_DATABASES) await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    const role = await client.query(`SELECT 1 FROM pg_roles WHERE rolname = 'stepgate'`);
    if (role.rowCount === 0) await client.query(`CREATE ROLE stepgate LOGIN CREATEDB PASSWORD '${password}'`);
    // What the postgres image does with POSTGRES_USER and POSTGRES_DB on its first start.
    await client.query('CREATE DATABASE stepgate OWNER stepgate');
  } finally {
    await client.end();
  }
}

async function dropComposeDatabases(admin: string): Promise<void> {
  const client = new Client({ connectionString: admin });
  await client.connect();
  for (const db of COMPOSE_DATABASES) await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await client.end();
}

describe('docker-compose.yml on a fresh clone', () => {
  it('passes `docker-compose config -q` with nothing in the environment and no .env', () => {
    const result = spawnSync(
      'docker-compose',
      ['-f', COMPOSE_FILE, '--project-directory', tmpdir(), 'config', '-q'],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        encoding: 'utf8',
      },
    );
    if (result.error) {
      throw new Error(
        'docker-compose is needed to validate the compose file (Debian: apt-get install -y docker-compose; ' +
          `or Docker's own \`docker compose\`): ${result.error.message}`,
      );
    }
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it("runs the image's default command as the embedded demo, saying loudly that it is one", async () => {
    // `docker run -p 8080:8080 IMAGE`: the Dockerfile's ENV (NODE_ENV=production) and CMD, nothing else.
    const image = dockerfileEnv(DOCKERFILE);
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(readFileSync(DOCKERFILE, 'utf8'))![1]!;
    const [node, ...args] = JSON.parse(cmd) as string[];
    expect(node).toBe('node');
    const data = mkdtempSync(join(tmpdir(), 'image-demo-'));
    const env: Record<string, string> = {
      ...image,
      STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
      STEPGATE_DATA_DIR: data,
      PATH: process.env.PATH ?? '',
    };
    expect(env['NODE_ENV']).toBe('production');
    const demo = startService('image-demo', args, env);
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (demo.child.exitCode !== null)
          throw new Error(`the demo exited (${demo.child.exitCode}):\n${demo.output()}`);
        const ok = await fetch('http://127.0.0.1:8080/.stepgate/healthz').then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`the demo never became healthy:\n${demo.output()}`);
        await sleep(250);
      }
      expect(demo.output()).toContain('STEPGATE DEMO');
      const token = spawnSync(process.execPath, ['dist/apps/dev-issuer/src/token.cli.js', '--sub', 'dora'], {
        env,
        cwd: ROOT,
        encoding: 'utf8',
      }).stdout.trim();
      const res = await fetch('http://127.0.0.1:8080/api/reports/q3', {
        headers: { authorization: `Bearer ${token}`, 'x-device-id': 'laptop' },
      });
      expect(res.status).toBe(200);
    } finally {
      await demo.stop();
    }
  });

  it("interpolates as compose's rules say", () => {
    expect(interpolate('${A:-x} ${A-y} $$A ${B:-${C:-z}}', { A: '' })).toBe('x  $A z');
    expect(interpolate('$A/${A}', { A: 'v' })).toBe('v/v');
    expect(() => interpolate('${A:?set A}', { A: '' })).toThrow(ComposeInterpolationError);
    expect(interpolate('${A?set A}', { A: '' })).toBe('');
  });

  it('interpolates with nothing set, as compose would, and names no host path or secret of the developer', () => {
    const compose = loadCompose(COMPOSE_FILE, {});
    const gatewayEnv = compose.services.gateway!.environment!;
    expect(gatewayEnv.STEPGATE_PUBLIC_URL).toBe('http://localhost:8080');
    expect(gatewayEnv.STEPGATE_DEMO_SECRETS_DIR).toBe('/app/demo-secrets');
    expect(gatewayEnv.STEPGATE_SESSION_KEY).toBe('');
    // Set empty, demo secrets are off: a production deployment then refuses a missing secret.
    expect(
      loadCompose(COMPOSE_FILE, { STEPGATE_DEMO_SECRETS_DIR: '' }).services.gateway!.environment!
        .STEPGATE_DEMO_SECRETS_DIR,
    ).toBe('');
  });
});

describe.skipIf(!postgresAvailable())('docker compose up, rehearsed as processes', () => {
  const admin = process.env.TEST_DATABASE_URL!;
  const running: Service[] = [];
  const forwarders: Server[] = [];
  let kafka: KafkaForTests;
  let stack: Stack;
  let gateway: string;
  let issuerPublic: string;
  let browser: Browser | undefined;

  /** Starts what compose would start, in depends_on order; resolves when every service is up. */
  async function up(): Promise<void> {
    const { compose } = stack;
    const state = new Map<string, Promise<void>>();
    for (const name of PROVIDED) state.set(name, Promise.resolve());
    const start = (name: string): Promise<void> => {
      const existing = state.get(name);
      if (existing) return existing;
      const service = compose.services[name]!;
      const started = (async () => {
        await Promise.all(Object.keys(service.depends_on ?? {}).map(start));
        const env = stack.env(name);
        const [command, ...args] = argvOf(service);
        const s = startService(name, args, env, { command });
        running.push(s);
        for (const p of (service.ports ?? []).map(publishedPort)) {
          forwarders.push(await publish(p.hostIp, p.host, p.container));
        }
        if (service.restart === 'no') {
          // A one-shot (service_completed_successfully): it must exit 0.
          const code = await new Promise<number | null>((r) => {
            if (s.child.exitCode !== null) r(s.child.exitCode);
            else s.child.on('exit', (c) => r(c));
          });
          if (code !== 0) throw new Error(`${name} exited ${code}:\n${s.output()}`);
          return;
        }
        const deadline = Date.now() + 90_000;
        while (!(await healthcheckPasses(service, env))) {
          if (s.child.exitCode !== null)
            throw new Error(`${name} exited (${s.child.exitCode}):\n${s.output()}`);
          if (Date.now() > deadline) throw new Error(`${name} never passed its healthcheck:\n${s.output()}`);
          await sleep(250);
        }
      })();
      state.set(name, started);
      return started;
    };
    await Promise.all(Object.keys(compose.services).map(start));
  }

  beforeAll(async () => {
    for (const port of [8080, 8081, 8082, 8090, 8091]) {
      expect(
        await portIsFree(port),
        `port ${port} (a container port the rehearsal listens on) is in use`,
      ).toBe(true);
    }
    kafka = await startOwnKafka();
    const publicPort = await freePort();
    const issuerPort = await freePort();
    const compose = loadCompose(COMPOSE_FILE, {
      STEPGATE_PUBLIC_PORT: String(publicPort),
      STEPGATE_DEV_ISSUER_PUBLIC_PORT: String(issuerPort),
    });
    stack = stackFor(compose, kafka.brokers);
    await preparePostgres(admin, compose.services.postgres!.environment!.POSTGRES_PASSWORD!);
    gateway = `http://localhost:${publicPort}`;
    issuerPublic = `http://localhost:${issuerPort}`;
    await up();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of running.reverse()) await s.stop();
    for (const f of forwarders) f.close();
    await kafka?.stop();
    await dropComposeDatabases(admin);
  });

  it('comes up with no .env: every secret the operator did not supply is a demo secret, generated once', async () => {
    const dir = stack.volumes.get('demo-secrets')!;
    const files = readdirSync(dir).sort();
    expect(files).toEqual(expect.arrayContaining(['factor-key', 'gateway-signing-key.jwk', 'session-key']));
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o077).toBe(0);
    const gatewayLog = running.find((s) => s.name === 'gateway')!.output();
    expect(gatewayLog).toMatch(/demo secret/i);
    // Said on every readiness probe too, not only once at start: a demo secret satisfies production mode.
    const ready = (await (await fetch(`${gateway}/.stepgate/readyz`)).json()) as { warnings?: string[] };
    expect(ready.warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining('demo secrets in use (STEPGATE_GATEWAY_SIGNING_KEY, STEPGATE_SESSION_KEY)'),
      ]),
    );
  });

  it('walks the README compose walkthrough through the published port', async () => {
    // `docker compose exec -T dev-issuer node dist/apps/dev-issuer/src/token.cli.js --sub NAME`: the token
    // CLI with the dev-issuer container's environment.
    await walkStepUpFlow({ gateway, env: stack.env('dev-issuer') }, 'alice-compose');
  });

  it('signs a browser in through URLs the host can open, on the ports compose published', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await (await browser.newContext()).newPage();
    const visited: string[] = [];
    page.on('request', (r) => visited.push(r.url()));
    await page.goto(`${gateway}/api/reports/q3`);
    await page.waitForSelector('#username');
    expect(page.url().startsWith(`${issuerPublic}/authorize?`)).toBe(true);
    await page.fill('#username', 'carol-compose');
    await Promise.all([page.waitForURL(`${gateway}/api/reports/q3`), page.click('button[type=submit]')]);
    const echoed = JSON.parse((await page.textContent('body')) ?? '{}') as { path: string };
    expect(echoed.path).toBe('/api/reports/q3');
    // Nothing the browser was sent to names a container.
    expect(visited.filter((u) => !u.startsWith(gateway) && !u.startsWith(issuerPublic))).toEqual([]);
  });

  it('fails to come up when a required variable is taken out of the compose file', async () => {
    // Without the demo secrets directory (or a secret of the operator's), the gateway must refuse to start.
    const env = stack.env('gateway');
    delete env.STEPGATE_DEMO_SECRETS_DIR;
    const gatewayService = stack.compose.services.gateway!;
    const [command, ...args] = argvOf(gatewayService);
    const result = spawnSync(command!, args, { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr + result.stdout).toContain('STEPGATE_SESSION_KEY');
  });
});
