// `npm run bench -- gateway [--mode kafka|embedded]`: throughput and latency of the upstream alone, a bare
// Node proxy, and the gateway on a cached-decision route and on a fresh-context route (every request a
// token the gateway has not verified and a device risk has not assessed). The default mode is the real
// deployment's shape: each service its own process over the Kafka protocol (KAFKA_BROKERS, else
// librdkafka's mock cluster through kcat); `embedded` measures `npm start`'s single process. Runs are interleaved (at least 5 of each) because a
// fresh Node proxy's throughput varies by tens of percent on a small machine; medians with min-max are
// reported, and the ratios are computed from medians measured in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { readRuntimeEnv } from '@stepgate/config';
import { loadDevIssuerConfig } from '../apps/dev-issuer/src/config';
import { loadOrCreateDevIssuerKey } from '../apps/dev-issuer/src/dev-issuer.keys';
import { signDevToken } from '../apps/dev-issuer/src/dev-token';
import { SIGNING_KEY_FILE } from '../apps/gateway/src/keys/gateway-keys';
import { startKafkaForTests } from '../test/support/kafka-mock';
import { freePort, freePorts, stepgateEnv } from '../test/support/processes';
import { summariseProfiles, type CpuProfile } from './profile-summary';

const ROOT = resolve(__dirname, '../..');

interface Run {
  name: string;
  round: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
  /** CPU time (user + system) of the process that served the run, per request answered. */
  cpu_us_per_req: number;
  /** Kafka mode, gateway runs: risk's CPU per request (scoring and learning from the access events). */
  risk_cpu_us_per_req?: number;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (Linux, 100 ticks/s). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": utime and stime are fields 14 and 15 of proc(5), here 11 and 12.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

const cpuOfAll = (pids: number[]) => pids.reduce((sum, pid) => sum + (cpuMs(pid) || 0), 0);

/** CPU ms the services use per half second when nothing is asked of them (consumers polling Kafka). */
let idleCpuPerHalfSecond = 25;
async function measureIdle(pids: number[]): Promise<void> {
  const before = cpuOfAll(pids);
  await sleep(3000);
  idleCpuPerHalfSecond = (cpuOfAll(pids) - before) / 6;
  console.log(`services idle: ${Math.round(idleCpuPerHalfSecond * 2)} ms of CPU per second`);
}

/**
 * Waits until the services are back to idle (their idle use plus a fifth and 2% of a core, for half a second;
 * at most 30 s): risk consumes a gateway run's access events after it, and a run measured during that catch-up would
 * share the cores with it.
 */
async function quiesce(pids: number[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const before = cpuOfAll(pids);
    await sleep(500);
    if (cpuOfAll(pids) - before <= idleCpuPerHalfSecond * 1.2 + 10 || Date.now() > deadline) return;
  }
}

/** Sums a Prometheus text exposition's samples of `name` whose labels contain every `match` pair. */
export function metricSum(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function start(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGTERM' && code !== 0 && code !== null) console.error(`${args[0]} exited with ${code}`);
  });
  return child;
}

async function waitFor(url: string, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url, { headers })).ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`not ready: ${url}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      out: { type: 'string' },
      mode: { type: 'string', default: 'kafka' },
      /** Write a V8 CPU profile of the gateway process and summarise it by component. */
      profile: { type: 'boolean', default: false },
    },
  });
  const out =
    values.out ?? join(ROOT, `bench/results/gateway${values.mode === 'embedded' ? '-embedded' : ''}.json`);
  const rounds = Math.max(5, Number(values.rounds));
  const duration = Number(values.duration);
  const connections = Number(values.connections);

  // The services' ports come from the same helper the e2e specs use; the demo upstream the gateway proxies
  // to is a standalone process shared by every target, and the bare proxy needs a port of its own.
  const ports = await freePorts();
  const shared = { upstream: await freePort(), bare: await freePort() };
  const upstream = `http://127.0.0.1:${shared.upstream}`;
  const env: NodeJS.ProcessEnv = stepgateEnv(ports, {
    LOG_LEVEL: 'warn',
    STEPGATE_DEMO_UPSTREAM_URL: upstream,
  });
  const dataDir = env.STEPGATE_DATA_DIR!;

  const mode = values.mode === 'embedded' ? 'embedded' : 'kafka';
  const kafka = mode === 'kafka' ? await startKafkaForTests(process.env) : undefined;
  if (kafka) {
    Object.assign(env, {
      KAFKA_BROKERS: kafka.brokers,
      STEPGATE_KAFKA_GROUP_PREFIX: `bench-${Date.now()}`,
      // The deployment's fetch wait (100 ms): no request in the measured paths waits on a consumer (risk is
      // asked directly, adr/0016), and shorter waits only make the idle consumers poll the mock more.
      ...(process.env.KAFKA_BROKERS ? {} : { KAFKA_IDEMPOTENT: 'false', KAFKA_MAX_WAIT_MS: '100' }),
    });
  }
  const children = [
    start([join(ROOT, 'dist/apps/demo-upstream/src/main.js')], {
      ...env,
      STEPGATE_DEMO_UPSTREAM_PORT: String(shared.upstream),
    }),
    start([join(ROOT, 'dist/bench/bare-proxy.js'), upstream, String(shared.bare)], env),
  ];
  // Profiled through the inspector, so that only the gateway runs are sampled (not start-up or idle polling).
  const inspectPort = values.profile ? await freePort() : null;
  const profileDir = inspectPort ? mkdtempSync(join(tmpdir(), 'stepgate-gateway-profiles-')) : null;
  const profiled = (main: string) =>
    inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`, join(ROOT, main)] : [join(ROOT, main)];
  let gateway: ChildProcess;
  let risk: ChildProcess | undefined;
  if (mode === 'embedded') {
    children.push((gateway = start(profiled('dist/apps/stepgate/src/main.js'), env)));
  } else {
    children.push(start([join(ROOT, 'dist/apps/dev-issuer/src/main.js')], env));
    children.push((risk = start([join(ROOT, 'dist/apps/risk/src/main.js')], env)));
    children.push(start([join(ROOT, 'dist/apps/challenge/src/main.js')], env));
    await waitFor(`http://127.0.0.1:${ports.risk}/healthz`);
    await waitFor(`http://127.0.0.1:${ports.challenge}/healthz`);
    children.push((gateway = start(profiled('dist/apps/gateway/src/main.js'), env)));
  }
  const [upstreamProcess, bareProcess] = children as [ChildProcess, ChildProcess];
  // Services first (they flush to Kafka on the way out), then the broker.
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((done) => {
            if (c.exitCode !== null || c.signalCode !== null) return done();
            c.once('exit', () => done());
            c.kill('SIGTERM');
            setTimeout(() => {
              c.kill('SIGKILL');
              done();
            }, 10_000).unref();
          }),
      ),
    );
    await kafka?.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));

  try {
    await waitFor(`${upstream}/`);
    await waitFor(`http://127.0.0.1:${shared.bare}/`);
    await waitFor(`http://127.0.0.1:${ports.gateway}/.stepgate/healthz`);

    const runtime = readRuntimeEnv(env);
    const issuerConfig = loadDevIssuerConfig(runtime);
    const key = await loadOrCreateDevIssuerKey(dataDir);
    const cachedHeaders = {
      authorization: `Bearer ${await signDevToken(issuerConfig, key, { sub: 'bench-cached' })}`,
      'x-device-id': 'bench-device',
    };
    // Warm the cached route: the first request asks risk, later ones hit the gateway's decision cache.
    await waitFor(`http://127.0.0.1:${ports.gateway}/api/reports/q3`, cachedHeaders);

    // Fresh context: a distinct subject, token and device on every request, signed before measuring.
    const freshCount = 25_000;
    console.log(`signing ${freshCount} tokens for the fresh-context runs...`);
    const fresh: { authorization: string; 'x-device-id': string }[] = [];
    for (let i = 0; i < freshCount; i++) {
      fresh.push({
        authorization: `Bearer ${await signDevToken(issuerConfig, key, { sub: `bench-${i}` })}`,
        'x-device-id': `device-${i}`,
      });
    }
    let next = 0;

    const targets: { name: string; url: string; options: Partial<autocannon.Options> }[] = [
      { name: 'upstream-direct', url: `${upstream}/api/reports/q3`, options: {} },
      { name: 'bare-node-proxy', url: `http://127.0.0.1:${shared.bare}/api/reports/q3`, options: {} },
      {
        name: 'gateway-cached-decision',
        url: `http://127.0.0.1:${ports.gateway}/api/reports/q3`,
        options: { headers: cachedHeaders },
      },
      {
        name: 'gateway-fresh-context',
        url: `http://127.0.0.1:${ports.gateway}/api/reports/q3`,
        options: {
          requests: [
            {
              setupRequest: (req) => {
                req.headers = { ...req.headers, ...fresh[next++ % freshCount] };
                return req;
              },
            },
          ],
        },
      },
    ];

    const servedBy = (name: string): ChildProcess =>
      name === 'upstream-direct' ? upstreamProcess : name === 'bare-node-proxy' ? bareProcess : gateway;
    const pids = children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
    await measureIdle(pids);
    // Every target warmed up (JIT, connection pools) before the first measured round: 2 s each, not counted.
    for (const t of targets) await autocannon({ url: t.url, connections, duration: 2, ...t.options });
    const runs: Run[] = [];
    const profiler = inspectPort ? await Profiler.attach(inspectPort) : null;
    const profiles = new Map<string, CpuProfile[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const t of targets) {
        await quiesce(pids);
        const server = servedBy(t.name).pid;
        const sampled = profiler !== null && t.name.startsWith('gateway');
        if (sampled) await profiler.start();
        const cpuBefore = { server: cpuMs(server), risk: cpuMs(risk?.pid) };
        const r = await autocannon({ url: t.url, connections, duration, ...t.options });
        if (sampled) {
          const profile = await profiler.stop();
          profiles.set(t.name, [...(profiles.get(t.name) ?? []), profile]);
          // Kept for a closer look (Chrome DevTools, or speedscope, open .cpuprofile files).
          writeFileSync(join(profileDir!, `${t.name}-${round}.cpuprofile`), JSON.stringify(profile));
        }
        const cpuServer = cpuMs(server) - cpuBefore.server;
        // Risk consumes the run's access events during and after it: its share is counted once it is idle.
        const gatewayRun = t.name.startsWith('gateway');
        if (gatewayRun && risk) await quiesce(pids);
        const cpuRisk = cpuMs(risk?.pid) - cpuBefore.risk;
        const answered = r.requests.total;
        const run: Run = {
          name: t.name,
          round,
          rps: Math.round(r.requests.average),
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          cpu_us_per_req: Math.round((cpuServer * 1000) / answered),
          ...(gatewayRun && risk ? { risk_cpu_us_per_req: Math.round((cpuRisk * 1000) / answered) } : {}),
        };
        runs.push(run);
        console.log(
          `round ${round} ${t.name.padEnd(24)} ${String(run.rps).padStart(6)} req/s  p50 ${run.p50_ms} ms  p99 ${run.p99_ms} ms  cpu ${run.cpu_us_per_req} us/req${run.risk_cpu_us_per_req === undefined ? '' : ` (risk ${run.risk_cpu_us_per_req})`}  non2xx ${run.non2xx} errors ${run.errors}`,
        );
      }
    }

    profiler?.close();

    const twoGateways =
      mode === 'kafka'
        ? await measureTwoGateways({
            env,
            issuer: { config: issuerConfig, key },
            gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
            riskUrl: `http://127.0.0.1:${ports.risk}`,
            duration,
            connections,
            children,
            pids,
          })
        : undefined;

    const summary = Object.fromEntries(
      targets.map((t) => {
        const mine = runs.filter((r) => r.name === t.name);
        const rps = mine.map((r) => r.rps);
        const riskCpu = mine.flatMap((r) =>
          r.risk_cpu_us_per_req === undefined ? [] : [r.risk_cpu_us_per_req],
        );
        return [
          t.name,
          {
            rps_median: median(rps),
            rps_min: Math.min(...rps),
            rps_max: Math.max(...rps),
            p50_ms_median: median(mine.map((r) => r.p50_ms)),
            p99_ms_median: median(mine.map((r) => r.p99_ms)),
            cpu_us_per_req_median: median(mine.map((r) => r.cpu_us_per_req)),
            ...(riskCpu.length ? { risk_cpu_us_per_req_median: median(riskCpu) } : {}),
          },
        ];
      }),
    );
    const m = (n: string) => summary[n]!.rps_median;
    const ratios = {
      bare_proxy_vs_upstream: +(m('bare-node-proxy') / m('upstream-direct')).toFixed(3),
      gateway_cached_vs_bare_proxy: +(m('gateway-cached-decision') / m('bare-node-proxy')).toFixed(3),
      gateway_fresh_vs_bare_proxy: +(m('gateway-fresh-context') / m('bare-node-proxy')).toFixed(3),
      gateway_fresh_vs_cached: +(m('gateway-fresh-context') / m('gateway-cached-decision')).toFixed(3),
      gateway_cached_p99_vs_bare_proxy: +(
        summary['gateway-cached-decision']!.p99_ms_median / summary['bare-node-proxy']!.p99_ms_median
      ).toFixed(2),
      gateway_cached_cpu_vs_bare_proxy: +(
        summary['gateway-cached-decision']!.cpu_us_per_req_median /
        summary['bare-node-proxy']!.cpu_us_per_req_median
      ).toFixed(2),
    };
    // Where the gateway's CPU goes per request, by component: each profiled run's share of busy time times the
    // run's measured CPU per request.
    const budget = Object.fromEntries(
      [...profiles].map(([name, list]) => {
        const summary = summariseProfiles(list);
        const cpu = median(runs.filter((r) => r.name === name).map((r) => r.cpu_us_per_req));
        return [
          name,
          {
            cpu_us_per_req: cpu,
            components: summary.components.map((c) => ({
              ...c,
              us_per_req: Math.round((c.share_pct / 100) * cpu),
            })),
          },
        ];
      }),
    );
    const result = {
      benchmark: 'gateway',
      date: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      settings: {
        rounds,
        duration_s: duration,
        connections,
        mode:
          mode === 'embedded'
            ? 'embedded: npm start entry (gateway, risk, challenge in one process), demo upstream in its own process'
            : `kafka: gateway, risk, challenge, dev issuer and upstream each in its own process, over ${process.env.KAFKA_BROKERS ? 'KAFKA_BROKERS' : "librdkafka's mock cluster (kcat)"}`,
        load_generator: 'autocannon, same machine',
        cpu: 'user + system time of the serving process from /proc, per request answered; services idle before each run',
      },
      runs,
      summary,
      ratios,
      ...(twoGateways ? { two_gateways: twoGateways } : {}),
      ...(inspectPort ? { profile: { files: profileDir, budget } } : {}),
    };
    mkdirSync(resolve(out, '..'), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log('\nmedians (min-max) over', rounds, 'interleaved rounds:');
    for (const [name, s] of Object.entries(summary))
      console.log(
        `  ${name.padEnd(24)} ${s.rps_median} req/s (${s.rps_min}-${s.rps_max}), p99 ${s.p99_ms_median} ms, cpu ${s.cpu_us_per_req_median} us/req`,
      );
    console.log('ratios:', ratios);
    if (twoGateways) console.log('two gateways:', JSON.stringify(twoGateways, null, 2));
    for (const [name, b] of Object.entries(budget)) {
      console.log(`\n${name}: ${b.cpu_us_per_req} us of gateway CPU per request, by component:`);
      for (const c of b.components.slice(0, 20))
        console.log(
          `  ${c.component.padEnd(34)} ${String(c.us_per_req).padStart(5)} us  ${c.share_pct.toFixed(1).padStart(5)}%`,
        );
    }
    console.log(`wrote ${out}`);
  } finally {
    await stop();
  }
}

/** The V8 sampling profiler of a process started with --inspect, over the DevTools protocol. */
class Profiler {
  private next = 0;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (e) => {
      const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg.result);
    });
  }

  static async attach(port: number): Promise<Profiler> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    const ws = new WebSocket(target!.webSocketDebuggerUrl);
    await new Promise((ok, fail) => {
      ws.addEventListener('open', ok);
      ws.addEventListener('error', fail);
    });
    const profiler = new Profiler(ws);
    await profiler.call('Profiler.enable');
    await profiler.call('Profiler.setSamplingInterval', { interval: 200 });
    return profiler;
  }

  private call(method: string, params: object = {}): Promise<unknown> {
    const id = ++this.next;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async start(): Promise<void> {
    await this.call('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    return ((await this.call('Profiler.stop')) as { profile: CpuProfile }).profile;
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Two gateway instances over one Kafka, each a consumer group of its own: what does each consume per request
 * it serves, first with only the first one loaded, then with both? Under steady traffic from known users the
 * decision-change stream stays quiet, so an instance's consumption does not grow with the other's traffic.
 * Beside it: the assessments risk published meanwhile, which is what each instance consumed when gateways
 * followed every assessment (before adr/0019).
 */
async function measureTwoGateways(o: {
  env: NodeJS.ProcessEnv;
  issuer: {
    config: ReturnType<typeof loadDevIssuerConfig>;
    key: Awaited<ReturnType<typeof loadOrCreateDevIssuerKey>>;
  };
  gatewayUrl: string;
  riskUrl: string;
  duration: number;
  connections: number;
  children: ChildProcess[];
  pids: number[];
}) {
  const port = await freePort();
  const second = start([join(ROOT, 'dist/apps/gateway/src/main.js')], {
    ...o.env,
    STEPGATE_GATEWAY_PORT: String(port),
    STEPGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'stepgate-gateway-2-')),
    // The same signing key as the first instance: risk trusts the gateway key set for the direct path.
    STEPGATE_GATEWAY_SIGNING_KEY_FILE: join(o.env.STEPGATE_DATA_DIR!, SIGNING_KEY_FILE),
  });
  o.children.push(second);
  if (second.pid !== undefined) o.pids.push(second.pid);
  const gateways = [o.gatewayUrl, `http://127.0.0.1:${port}`];
  await waitFor(`${gateways[1]}/.stepgate/healthz`);

  // Known users: each signed in with its own token and device, and seen by risk before measuring.
  const users = await Promise.all(
    Array.from({ length: 64 }, async (_, i) => ({
      authorization: `Bearer ${await signDevToken(o.issuer.config, o.issuer.key, { sub: `bench-known-${i}` })}`,
      'x-device-id': `known-device-${i}`,
    })),
  );
  const load = (url: string, seconds: number, connections: number) => {
    let n = 0;
    return autocannon({
      url: `${url}/api/reports/q3`,
      connections,
      duration: seconds,
      requests: [
        {
          setupRequest: (req) => {
            req.headers = { ...req.headers, ...users[n++ % users.length] };
            return req;
          },
        },
      ],
    });
  };
  for (let i = 0; i < 3; i++) {
    await Promise.all(gateways.map((g) => load(g, 2, 8)));
    await quiesce(o.pids);
  }

  const snapshot = async () => {
    const texts = await Promise.all(
      gateways.map(async (g) => (await fetch(`${g}/.stepgate/metrics`)).text()),
    );
    const riskText = await (await fetch(`${o.riskUrl}/metrics`)).text();
    return {
      gateways: texts.map((t) => ({
        served: metricSum(t, 'stepgate_gateway_requests_total'),
        changes: metricSum(t, 'stepgate_kafka_messages_consumed_total', {
          topic: 'stepgate.risk.decision.v1',
        }),
        consumed: metricSum(t, 'stepgate_kafka_messages_consumed_total'),
      })),
      assessments: metricSum(riskText, 'stepgate_risk_assessments_total', { source: 'access' }),
    };
  };
  const phase = async (name: string, loaded: string[]) => {
    const before = await snapshot();
    await Promise.all(
      loaded.map((g) => load(g, o.duration, Math.max(1, Math.floor(o.connections / loaded.length)))),
    );
    await quiesce(o.pids);
    const after = await snapshot();
    const assessments = after.assessments - before.assessments;
    return {
      phase: name,
      risk_assessments_published: assessments,
      instances: after.gateways.map((g, i) => {
        const b = before.gateways[i]!;
        const served = g.served - b.served;
        const changes = g.changes - b.changes;
        return {
          instance: i + 1,
          served,
          decision_changes_consumed: changes,
          messages_consumed: g.consumed - b.consumed,
          decision_changes_per_request: served === 0 ? null : +(changes / served).toFixed(5),
          // Following every assessment, as before adr/0019, each instance read all of them, whatever it served.
          assessments_read_before_adr_0019: assessments,
        };
      }),
    };
  };
  return [await phase('first loaded', [gateways[0]!]), await phase('both loaded', gateways)];
}
