// `npm run policy -- check FILE`: validates a config file without starting anything. Valid: a short summary
// and exit 0. Invalid: every problem as `FILE:LINE:COL path: message` (the form editors and CI annotate)
// and exit 1. `npm run policy -- schema [OUT]` writes the JSON Schema generated from the services' schemas.
// `npm run policy -- simulate --candidate FILE` backtests a candidate against the accesses risk recorded, or
// with `--kafka BROKERS` against the access history on the Kafka topics, replayed into a throwaway database.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ConfigError, type ConfigIssue, pathOf, readRuntimeEnv, type RuntimeEnv } from '@stepgate/config';
import { TOPICS } from '@stepgate/contracts';
import { loadRouteViews, policyVersionOf } from '@stepgate/policy';
import { DataSource } from 'typeorm';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { BacktestReport, DecisionCounts } from '../../risk/src/backtest/backtest.engine';
import { resolveCandidate } from '../../risk/src/backtest/candidate';
import { resolvePolicyInForce, resolveDocument } from '../../risk/src/backtest/policy-in-force';
import {
  InvalidCandidate,
  simulate,
  type PolicyInForce,
  type SimulationRequest,
} from '../../risk/src/backtest/simulation';
import { loadRiskConfig } from '../../risk/src/config';
import { riskDataSourceOptions } from '../../risk/src/database/risk.data-source';
import { MODEL_NAME } from '@stepgate/risk-scoring';
import { renderJsonSchema, type StepgateConfig, validateStepgateConfig } from './stepgate.config';

const USAGE = [
  'usage: npm run policy -- check FILE     validate a config file (exit 0 valid, 1 invalid)',
  '       npm run policy -- schema [OUT]   print (or write to OUT) the JSON Schema of the config file',
  '       npm run policy -- simulate --candidate FILE [--from TIME] [--to TIME] [--config FILE] [--sample N] [--json]',
  '                                  [--kafka HOST:PORT,...]',
  '                                        replay the accesses risk recorded under a candidate policy (YAML or JSON:',
  "                                        parts of the config file's risk: and policy: sections); DATABASE_URL or",
  '                                        STEPGATE_DATA_DIR names the database as for the services; TIME is ISO 8601',
  '                                        with its zone, e.g. 2026-11-01T00:00:00Z. The policy in force is the',
  "                                        database's newest policy version, else the config file's. With --kafka,",
  '                                        the accesses come from the access and challenge outcome topics instead,',
  '                                        replayed under the policy in force into a throwaway database',
].join('\n');

const ISO_TIME = z.iso.datetime({ offset: true });

/** An ISO 8601 date-time with its zone (`2026-11-01T00:00:00Z`), as the HTTP endpoint asks; else NaN. */
function isoTime(text: string): number {
  return ISO_TIME.safeParse(text).success ? Date.parse(text) : Number.NaN;
}

/** `FILE:LINE:COL path: message`; `FILE: message` for a problem with no place in the file. */
export function formatProblem(file: string, issue: ConfigIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.col ?? 1}`;
  return issue.path ? `${where} ${pathOf(issue)}: ${issue.message}` : `${where}: ${issue.message}`;
}

export function summary(file: string, text: string, config: StepgateConfig): string[] {
  const sha = createHash('sha256').update(text).digest('hex').slice(0, 12);
  const { thresholds } = config.risk;
  const routes = config.policy.routes.map((r) => {
    const levels = Object.entries(r.decisions).map(([level, decision]) => `${level} ${decision}`);
    const methods = r.methods ? `${r.methods.join(',')} ` : '';
    const host = r.host ? `${r.host} ` : '';
    const extra = [
      r.stepUp && `step-up ${r.stepUp.acr} within ${r.stepUp.maxAgeSeconds}s`,
      `risk unavailable: ${r.onRiskUnavailable}`,
      r.mode === 'monitor' && 'MONITOR',
    ].filter(Boolean);
    return `  ${r.id}: ${host}${methods}${r.path} -> ${r.upstream} (${levels.join(', ')}; ${extra.join('; ')})`;
  });
  return [
    `${file}: valid (sha256 ${sha})`,
    `routes (${routes.length}, first match wins):`,
    ...routes,
    `risk thresholds: medium ${thresholds.medium}, high ${thresholds.high}, critical ${thresholds.critical}`,
    `risk policy version: ${MODEL_NAME}/cfg-${policyVersionOf(config.risk)}`,
  ];
}

function check(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    console.error(formatProblem(file, { message: `cannot read file: ${(err as Error).message}` }));
    return 1;
  }
  // ${ENV} references resolve against this environment, as they would at start.
  const result = validateStepgateConfig(text, process.env);
  if (!result.ok) {
    for (const issue of result.issues) console.error(formatProblem(file, issue));
    console.error(`${file}: ${result.issues.length} problem${result.issues.length === 1 ? '' : 's'}`);
    return 1;
  }
  console.log(summary(file, text, result.value).join('\n'));
  return 0;
}

/** Usage errors exit 2, an unreadable or invalid candidate, config or policy version 1, an interrupt 130. */
async function simulateCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        candidate: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        config: { type: 'string' },
        sample: { type: 'string' },
        kafka: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const from = values.from === undefined ? undefined : isoTime(values.from);
  const to = values.to === undefined ? undefined : isoTime(values.to);
  const sample = values.sample === undefined ? undefined : Number(values.sample);
  const brokers = values.kafka
    ?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (
    !values.candidate ||
    Number.isNaN(from) ||
    Number.isNaN(to) ||
    (from !== undefined && to !== undefined && from >= to) ||
    (sample !== undefined && !(Number.isInteger(sample) && sample >= 0 && sample <= 500)) ||
    (brokers !== undefined && brokers.length === 0)
  ) {
    console.error(USAGE);
    return 2;
  }
  const runtime = readRuntimeEnv({
    ...process.env,
    ...(values.config ? { STEPGATE_CONFIG: values.config } : {}),
  });
  let candidate: unknown;
  try {
    candidate = parseYaml(readFileSync(values.candidate, 'utf8')) ?? {};
  } catch (err) {
    console.error(`${values.candidate}: ${(err as Error).message}`);
    return 1;
  }
  const sqlite = join(runtime.dataDir, 'risk.sqlite');
  const hasDatabase = runtime.databaseUrl !== undefined || existsSync(sqlite);
  if (!brokers && !hasDatabase) {
    console.error(
      `no risk database at ${sqlite} (set STEPGATE_DATA_DIR or DATABASE_URL as for the services)`,
    );
    return 1;
  }
  const say = (line: string) => {
    if (!values.json) console.error(line);
  };
  const invalidCandidate = (problems: string[]) => {
    for (const p of problems) console.error(`${values.candidate}: ${p}`);
    console.error(`${values.candidate}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    return 1;
  };
  // Read only: no migrations from a reporting command. With --kafka the database only says which policy
  // version is in force.
  const db = hasDatabase
    ? new DataSource({ ...riskDataSourceOptions(runtime), migrationsRun: false, logging: ['error'] })
    : null;
  await db?.initialize();
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  try {
    const resolved = await policyInForce(runtime, db, brokers ?? null);
    if (!resolved.ok) return 1;
    const { inForce } = resolved;
    say(`policy in force: ${resolved.said}`);
    const request = { candidate, from, to, sample, signal: interrupted.signal };
    let report;
    if (!brokers) {
      report = await simulate(db!.manager, inForce, request);
    } else {
      // Checked before the topics are read and the history rebuilt, which may take minutes.
      const checked = resolveCandidate(candidate, inForce.config, inForce.routes);
      if (!checked.ok) return invalidCandidate(checked.problems);
      await db?.destroy();
      report = await simulateFromKafka(brokers, runtime, inForce, request, say);
    }
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else console.log(describeReport(report).join('\n'));
    return 0;
  } catch (err) {
    if (interrupted.signal.aborted) {
      console.error('interrupted');
      return 130;
    }
    if (!(err instanceof InvalidCandidate)) throw err;
    return invalidCandidate(err.problems);
  } finally {
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
    if (db?.isInitialized) await db.destroy();
  }
}

/**
 * The policy in force: the newest policy version in risk's database (what every instance follows), else the
 * config file's; the file's start-only parts either way. Problems are printed.
 */
async function policyInForce(
  runtime: RuntimeEnv,
  db: DataSource | null,
  brokers: string[] | null,
): Promise<{ ok: true; inForce: PolicyInForce; said: string } | { ok: false }> {
  try {
    const started = loadRiskConfig(runtime);
    let resolved = await resolvePolicyInForce(db?.manager ?? null, started, () => loadRouteViews(runtime));
    let where = 'the newest in the database';
    if (resolved.ok && !resolved.head && !db && brokers) {
      // No risk database to read the versions from: the newest on the policy topic is what everyone runs.
      const { readNewestPolicy } = await loadKafkaReplay();
      const newest = await readNewestPolicy({ brokers, maxWaitMs: runtime.kafkaMaxWaitMs });
      if (newest) {
        resolved = resolveDocument(newest, newest.document, started);
        where = `the newest on ${TOPICS.policyVersion}`;
      }
    }
    if (!resolved.ok) {
      const { version } = resolved.head;
      for (const p of resolved.problems) console.error(`policy version ${version}: ${p}`);
      console.error(`policy version ${version} (${where}) does not validate: risk would not apply it either`);
      return { ok: false };
    }
    const { head } = resolved;
    const said = head
      ? `version ${head.version} (by ${head.author}, ${head.createdAt}; ${where})`
      : `the config file ${runtime.configFile} (${db ? 'no recorded versions' : `no risk database to read versions from${brokers ? ' and none on the policy topic' : ''}`})`;
    return { ok: true, inForce: resolved.inForce, said };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) console.error(`${runtime.configFile}: ${p}`);
    return { ok: false };
  }
}

/**
 * The Kafka replay, a tool built from a checkout (`npm run build`) and not shipped in the service image.
 * Loaded only for `--kafka`: the risk module and kafkajs would slow every other command's start down
 * (0.6 s -> 1.5 s).
 */
async function loadKafkaReplay(): Promise<typeof import('../../../tools/kafka-replay/src/kafka-replay.js')> {
  try {
    return await import('../../../tools/kafka-replay/src/kafka-replay.js');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw err;
    throw new Error(
      '--kafka needs the Kafka replay (tools/kafka-replay), which the service image does not ship: ' +
        'run `npm run policy -- simulate --kafka ...` from a checkout',
    );
  }
}

/** The backtest over the history on the topics, rebuilt into a throwaway database (removed however it ends). */
async function simulateFromKafka(
  brokers: string[],
  runtime: RuntimeEnv,
  inForce: PolicyInForce,
  request: SimulationRequest,
  say: (line: string) => void,
): Promise<BacktestReport> {
  const { readTopicHistory, replayPlan, replayWarnings, withRebuiltDatabase } = await loadKafkaReplay();
  say(`reading ${TOPICS.access} and ${TOPICS.challengeOutcome} from ${brokers.join(',')}`);
  const history = await readTopicHistory({
    brokers,
    maxWaitMs: runtime.kafkaMaxWaitMs,
    signal: request.signal,
  });
  const plan = replayPlan(history, { to: request.to });
  say(`rebuilding the history from ${plan.accesses} access events and ${plan.outcomes} challenge outcomes`);
  const started = performance.now();
  const report = await withRebuiltDatabase(
    plan,
    { config: inForce.config, runtime, signal: request.signal },
    (em) => {
      say(`rebuilt in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return simulate(em, inForce, request);
    },
  );
  report.warnings.push(...replayWarnings(history, plan));
  return report;
}

/** The report for a person: totals side by side, what changed, and why, in a screenful. */
export function describeReport(r: BacktestReport): string[] {
  const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
  const cell = (c: DecisionCounts, d: 'allow' | 'step_up' | 'deny') => `${c[d]} (${pct(c.rates[d])})`;
  const window = `${r.window.from ?? 'the first'} to ${r.window.to ?? 'the last'} recorded access`;
  const lines = [
    `backtest of ${r.events.considered} recorded accesses (${window}; first ${r.window.firstEvent ?? '-'}, last ${r.window.lastEvent ?? '-'})`,
    `policy in force ${r.policies.inForce}, candidate ${r.policies.candidate}`,
    `${'decision'.padEnd(10)}${'in force'.padEnd(22)}candidate`,
    ...(['allow', 'step_up', 'deny'] as const).map(
      (d) => `${d.padEnd(10)}${cell(r.inForce, d).padEnd(22)}${cell(r.candidate, d)}`,
    ),
    `changed decisions: ${r.changed.decisions} (stricter ${r.changed.stricter}, laxer ${r.changed.laxer}); levels changed: ${r.changed.levels}; scores changed: ${r.changed.scores}`,
    'per route (step_up, deny: in force -> candidate):',
    ...Object.entries(r.routes).map(
      ([id, x]) =>
        `  ${id}${x.mode.candidate === 'monitor' ? ' [monitor]' : ''}: step_up ${x.inForce.step_up} -> ${x.candidate.step_up}, deny ${x.inForce.deny} -> ${x.candidate.deny} of ${x.candidate.events}`,
    ),
    `levels (low/medium/high/critical): ${levelsOf(r.levels.inForce)} -> ${levelsOf(r.levels.candidate)}`,
    'signals (fired/decisive, in force -> candidate):',
    ...Object.entries(r.signals)
      .filter(
        ([, s]) => s.inForce.fired + s.candidate.fired + s.inForce.monitored + s.candidate.monitored > 0,
      )
      .map(
        ([name, s]) =>
          `  ${name}: ${s.inForce.fired}/${s.inForce.decisive} -> ${s.candidate.fired}/${s.candidate.decisive}` +
          (s.candidate.monitored ? ` (monitored ${s.candidate.monitored})` : ''),
      ),
    `subjects: ${r.subjects.considered}; newly challenged ${r.subjects.newlyChallenged.count}${list(r.subjects.newlyChallenged.sample)}; released ${r.subjects.released.count}${list(r.subjects.released.sample)}`,
  ];
  if (r.sample.length > 0) {
    lines.push('changed decisions (sample):');
    for (const s of r.sample) {
      const why = (signals: { name: string; weight: number }[]) =>
        signals
          .filter((x) => x.weight !== 0)
          .map((x) => `${x.name} ${x.weight > 0 ? '+' : ''}${x.weight}`)
          .join(', ') || 'no signals';
      lines.push(
        `  ${s.time} ${s.subject} ${s.route ?? '-'} ${s.clientIp ?? '-'}: ` +
          `${s.inForce.score} ${s.inForce.level} ${s.inForce.decision} [${why(s.inForce.signals)}] -> ` +
          `${s.candidate.score} ${s.candidate.level} ${s.candidate.decision} [${why(s.candidate.signals)}]`,
      );
    }
  }
  if (r.warnings.length > 0) lines.push('warnings:', ...r.warnings.map((w) => `  - ${w}`));
  return lines;
}

const levelsOf = (l: Record<string, number>) => [l.low, l.medium, l.high, l.critical].join('/');
const list = (xs: string[]) => (xs.length > 0 ? ` (${xs.join(', ')}${xs.length < 20 ? '' : ', ...'})` : '');

async function main(args: string[]): Promise<number> {
  const [command, file, ...rest] = args;
  if (command === 'simulate') return simulateCommand(args.slice(1));
  if (command === 'check' && file && rest.length === 0) return check(file);
  if (command === 'schema' && rest.length === 0) {
    if (file) writeFileSync(file, renderJsonSchema());
    else process.stdout.write(renderJsonSchema());
    return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
