// Starts StepGate's real entry points as child processes, on free ports, with a throwaway data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root, from the sources or from their compiled copy under dist/ (the benchmarks). */
export const ROOT = ((dir: string): string => {
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})(__dirname);
export const entry = (app: string, file = 'main.js'): string => join(ROOT, 'dist/apps', app, 'src', file);

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface Ports {
  gateway: number;
  risk: number;
  challenge: number;
  issuer: number;
  upstream: number;
}

export async function freePorts(): Promise<Ports> {
  return {
    gateway: await freePort(),
    risk: await freePort(),
    challenge: await freePort(),
    issuer: await freePort(),
    upstream: await freePort(),
  };
}

/** The environment that points every service at the given ports, data directory and backends. */
export function stepgateEnv(ports: Ports, extra: Record<string, string> = {}): Record<string, string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-e2e-'));
  const issuer = `http://127.0.0.1:${ports.issuer}`;
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    LOG_FORMAT: 'json',
    STEPGATE_CONFIG: join(ROOT, 'config/stepgate.yaml'),
    STEPGATE_DATA_DIR: dataDir,
    STEPGATE_GATEWAY_PORT: String(ports.gateway),
    STEPGATE_RISK_PORT: String(ports.risk),
    STEPGATE_CHALLENGE_PORT: String(ports.challenge),
    STEPGATE_DEV_ISSUER_PORT: String(ports.issuer),
    STEPGATE_DEMO_UPSTREAM_PORT: String(ports.upstream),
    STEPGATE_DEV_ISSUER_URL: issuer,
    STEPGATE_DEV_ISSUER_JWKS: `${issuer}/jwks.json`,
    STEPGATE_CHALLENGE_URL: `http://127.0.0.1:${ports.challenge}`,
    STEPGATE_CHALLENGE_JWKS: `http://127.0.0.1:${ports.challenge}/.stepgate/challenge/jwks.json`,
    STEPGATE_DEMO_UPSTREAM_URL: `http://127.0.0.1:${ports.upstream}`,
    STEPGATE_RISK_ADMIN_URL: `http://127.0.0.1:${ports.risk}`,
    // The gateway asks risk directly, as compose deploys it (adr/0016-direct-risk-path); ignored on the
    // in-process bus.
    STEPGATE_RISK_URL: `http://127.0.0.1:${ports.risk}`,
    STEPGATE_GATEWAY_JWKS: `http://127.0.0.1:${ports.gateway}/.stepgate/jwks.json`,
    ...extra,
  };
}

export interface Service {
  name: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startService(
  name: string,
  args: string[],
  env: Record<string, string>,
  { command = process.execPath, cwd = ROOT }: { command?: string; cwd?: string } = {},
): Service {
  // Its own process group, so stopping it also stops what it started (npm does not forward signals).
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return {
    name,
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      const group = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          // already gone
        }
      };
      group(signal);
      const deadline = Date.now() + 15_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) await sleep(50);
      // Whatever the leader did, nothing it started outlives the test.
      group('SIGKILL');
      return child.exitCode;
    },
  };
}

export async function waitForHealthy(url: string, service: Service, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null)
      throw new Error(`${service.name} exited (${service.child.exitCode}):\n${service.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${service.name} not healthy at ${url} within ${timeoutMs} ms:\n${service.output()}`);
}

export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out: ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}
