// `npm run bench -- log [--runs 5] [--lines 100000] [--per-tick 16] [--only REGEX]`: what a log line of the gateway's access-log shape costs,
// written the way the gateway writes it (Nest's LoggerService.log(object, 'Access'), while a request's
// correlation id is entered), through each logger, into a pipe that the bench drains (as a container runtime
// reads a service's stdout). Each run is a fresh child process writing `--lines` lines, `--per-tick` of them
// per event-loop turn (a busy gateway answers several requests a turn); it reports the CPU time and the
// wall time from the first line until every line has left the process. Variants, interleaved run by run:
//
// - `batching`: the hand-written logger this replaced (Nest's ConsoleLogger in JSON mode, the lines of a turn
//   joined into one synchronous write), kept here as the baseline;
// - `pino-sync`: pino through nestjs-pino, one synchronous write per line;
// - `pino-async`: the same over pino's asynchronous destination (what the services use);
// - `pino-async-4k`: asynchronous, holding lines until 4 KB are pending (or 100 ms have passed).
//
// Medians with min-max; writes bench/results/log.json.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ConsoleLogger, type LoggerService, type LogLevel } from '@nestjs/common';
import { jsonLogger, withCorrelationId } from '@stepgate/observability';
import { Logger, PinoLogger } from 'nestjs-pino';
import { pino } from 'pino';
import { round2, stat } from './support';

const VARIANTS = ['batching', 'pino-sync', 'pino-async', 'pino-async-4k'] as const;
type Variant = (typeof VARIANTS)[number];

type JsonOptions = Parameters<ConsoleLogger['getJsonLogObject']>[1];

/** libs/observability's JsonLinesLogger as it was before pino (commit 4cb2981), the baseline. */
class BatchingLogger extends ConsoleLogger {
  private pending: string[] = [];
  private scheduled = false;

  constructor(context: string, logLevels: LogLevel[]) {
    super(context, { json: true, logLevels, colors: false });
    process.once('exit', () => this.flush());
  }

  protected override printAsJson(message: unknown, options: JsonOptions): void {
    const line = `${this.stringifyJsonLogObject(this.getJsonLogObject(message, options))}\n`;
    if (options.writeStreamType === 'stderr') {
      this.flush();
      process.stderr.write(line);
      return;
    }
    this.pending.push(line);
    if (this.pending.length >= 512) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    process.stdout.write(chunk);
  }
}

interface ChildResult {
  cpu_us_per_line: number;
  wall_us_per_line: number;
  lines: number;
}

/** A logger of the variant, and how to wait until everything it was given has been written. */
function loggerOf(variant: Variant): { logger: LoggerService; flushed: () => Promise<void> } {
  if (variant === 'batching') {
    const logger = new BatchingLogger('gateway', ['error', 'warn', 'log']);
    return { logger, flushed: () => new Promise((r) => setImmediate(r)).then(() => logger.flush()) };
  }
  const destination = pino.destination(
    variant === 'pino-async-4k'
      ? { dest: 1, sync: false, minLength: 4096, periodicFlush: 100 }
      : { dest: 1, sync: variant === 'pino-sync' },
  );
  const logger = new Logger(new PinoLogger({ pinoHttp: { logger: jsonLogger('info', destination) } }), {});
  return { logger, flushed: () => new Promise<void>((r) => destination.flush(() => r())) };
}

/** The gateway's access-log line (apps/gateway/src/proxy/gateway.handler.ts, finish()). */
function accessLine(i: number, correlationId: string): Record<string, unknown> {
  return {
    msg: 'request',
    correlationId,
    method: 'GET',
    host: 'app.example',
    path: `/api/reports/q${i % 4}`,
    route: 'reports',
    decision: 'allow',
    reason: 'risk low',
    status: 200,
    policyVersion: 3,
    latencyMs: 1.7,
    clientIp: '203.0.113.9',
    subject: `user-${i % 64}`,
  };
}

async function child(variant: Variant, lines: number, perTick: number): Promise<void> {
  const { logger, flushed } = loggerOf(variant);
  const ids = Array.from({ length: 256 }, () => randomUUID());
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < lines;) {
    for (const end = Math.min(lines, i + perTick); i < end; i++) {
      const id = ids[i % ids.length]!;
      withCorrelationId(id, () => {
        logger.log(accessLine(i, id), 'Access');
      });
    }
    await new Promise((r) => setImmediate(r));
  }
  await flushed();
  const used = process.cpuUsage(cpu);
  const result: ChildResult = {
    lines,
    cpu_us_per_line: round2((used.user + used.system) / lines),
    wall_us_per_line: round2(((performance.now() - started) * 1000) / lines),
  };
  process.stderr.write(`${JSON.stringify(result)}\n`);
}

/** One run: a child process whose stdout is read and dropped, as a log collector would. */
function run(variant: Variant, lines: number, perTick: number): Promise<ChildResult & { bytes: number }> {
  return new Promise((resolveRun, reject) => {
    const proc = spawn(
      process.execPath,
      [process.argv[1]!, 'log', '--child', variant, '--lines', String(lines), '--per-tick', String(perTick)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let bytes = 0;
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (bytes += d.length));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const last = err.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`${variant} exited ${code}: ${err}`));
      else resolveRun({ ...(JSON.parse(last) as ChildResult), bytes });
    });
  });
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: 'string', default: '5' },
      lines: { type: 'string', default: '100000' },
      'per-tick': { type: 'string', default: '16' },
      child: { type: 'string' },
      only: { type: 'string', default: '' },
      out: { type: 'string', default: 'bench/results/log.json' },
    },
  });
  const lines = Number(values.lines);
  const perTick = Number(values['per-tick']);
  if (values.child) return child(values.child as Variant, lines, perTick);

  const runs = Number(values.runs);
  const variants = VARIANTS.filter((v) => new RegExp(values.only).test(v));
  const results = Object.fromEntries(variants.map((v) => [v, [] as (ChildResult & { bytes: number })[]]));
  for (let r = 0; r < runs; r++) {
    for (const variant of variants) {
      const result = await run(variant, lines, perTick);
      results[variant]!.push(result);
      console.log(
        `run ${r + 1}/${runs} ${variant}: ${result.cpu_us_per_line} us CPU, ${result.wall_us_per_line} us wall ` +
          `per line (${Math.round(result.bytes / lines)} bytes a line)`,
      );
    }
  }
  const summary = Object.fromEntries(
    variants.map((v) => [
      v,
      {
        cpu_us_per_line: stat(results[v]!.map((x) => x.cpu_us_per_line)),
        wall_us_per_line: stat(results[v]!.map((x) => x.wall_us_per_line)),
        bytes_per_line: Math.round(results[v]![0]!.bytes / lines),
      },
    ]),
  );
  const report = {
    bench: 'log',
    date: new Date().toISOString(),
    node: process.version,
    settings: { runs, lines, per_tick: perTick },
    summary,
    runs: results,
  };
  const out = resolve(values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(summary, null, 2));
}
