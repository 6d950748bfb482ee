// `npm run bench -- gateway [--mode kafka|embedded]`: throughput and latency of the upstream alone, a bare
// Node proxy, and the gateway on a cached-decision route and on a fresh-context route (every request a
// token the gateway has not verified and a device risk has not assessed). The default mode is the real
// deployment's shape: each service its own process over the Kafka protocol (KAFKA_BROKERS, else
// librdkafka's mock cluster through kcat); `embedded` measures `npm start`'s single process. Runs are interleaved (at least 5 of each) because a
// fresh Node proxy's throughput varies by tens of percent on a small machine; medians with min-max are
// reported, and the ratios are computed from medians measured in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { readRuntimeEnv } from '@stepgate/config';
import { loadDevIssuerConfig } from '../apps/dev-issuer/src/config';
import { loadOrCreateDevIssuerKey } from '../apps/dev-issuer/src/dev-issuer.keys';
import { signDevToken } from '../apps/dev-issuer/src/dev-token';
import { startKafkaForTests } from '../test/support/kafka-mock';
import { freePort, freePorts, stepgateEnv } from '../test/support/processes';

const ROOT = resolve(__dirname, '../..');

interface Run {
  name: string;
  round: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
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
      ...(process.env.KAFKA_BROKERS ? {} : { KAFKA_IDEMPOTENT: 'false', KAFKA_MAX_WAIT_MS: '25' }),
    });
  }
  const children = [
    start([join(ROOT, 'dist/apps/demo-upstream/src/main.js')], {
      ...env,
      STEPGATE_DEMO_UPSTREAM_PORT: String(shared.upstream),
    }),
    start([join(ROOT, 'dist/bench/bare-proxy.js'), upstream, String(shared.bare)], env),
  ];
  if (mode === 'embedded') {
    children.push(start([join(ROOT, 'dist/apps/stepgate/src/main.js')], env));
  } else {
    children.push(start([join(ROOT, 'dist/apps/dev-issuer/src/main.js')], env));
    children.push(start([join(ROOT, 'dist/apps/risk/src/main.js')], env));
    children.push(start([join(ROOT, 'dist/apps/challenge/src/main.js')], env));
    await waitFor(`http://127.0.0.1:${ports.risk}/healthz`);
    await waitFor(`http://127.0.0.1:${ports.challenge}/healthz`);
    children.push(start([join(ROOT, 'dist/apps/gateway/src/main.js')], env));
  }
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

    const runs: Run[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const t of targets) {
        const r = await autocannon({ url: t.url, connections, duration, ...t.options });
        const run: Run = {
          name: t.name,
          round,
          rps: Math.round(r.requests.average),
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
        };
        runs.push(run);
        console.log(
          `round ${round} ${t.name.padEnd(24)} ${String(run.rps).padStart(6)} req/s  p50 ${run.p50_ms} ms  p99 ${run.p99_ms} ms  non2xx ${run.non2xx} errors ${run.errors}`,
        );
      }
    }

    const summary = Object.fromEntries(
      targets.map((t) => {
        const mine = runs.filter((r) => r.name === t.name);
        const rps = mine.map((r) => r.rps);
        return [
          t.name,
          {
            rps_median: median(rps),
            rps_min: Math.min(...rps),
            rps_max: Math.max(...rps),
            p50_ms_median: median(mine.map((r) => r.p50_ms)),
            p99_ms_median: median(mine.map((r) => r.p99_ms)),
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
    };
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
      },
      runs,
      summary,
      ratios,
    };
    mkdirSync(resolve(out, '..'), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log('\nmedians (min-max) over', rounds, 'interleaved rounds:');
    for (const [name, s] of Object.entries(summary))
      console.log(
        `  ${name.padEnd(24)} ${s.rps_median} req/s (${s.rps_min}-${s.rps_max}), p99 ${s.p99_ms_median} ms`,
      );
    console.log('ratios:', ratios);
    console.log(`wrote ${out}`);
  } finally {
    await stop();
  }
}
