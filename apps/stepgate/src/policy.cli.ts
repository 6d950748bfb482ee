// `npm run policy -- check FILE`: validates a config file without starting anything. Valid: a short summary
// and exit 0. Invalid: every problem as `FILE:LINE:COL path: message` (the form editors and CI annotate)
// and exit 1. `npm run policy -- schema [OUT]` writes the JSON Schema generated from the services' schemas.
// `npm run policy -- simulate --candidate FILE` backtests a candidate against the accesses risk recorded.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, type ConfigIssue, pathOf, readRuntimeEnv } from '@stepgate/config';
import { DataSource } from 'typeorm';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { BacktestReport, DecisionCounts } from '../../risk/src/backtest/backtest.engine';
import { InvalidCandidate, simulate } from '../../risk/src/backtest/simulation';
import { loadRiskConfig, loadRouteViews, policyVersionOf } from '../../risk/src/config';
import { riskDataSourceOptions } from '../../risk/src/profiles/risk.data-source';
import { MODEL_NAME } from '../../risk/src/scoring/risk.model';
import { renderJsonSchema, type StepgateConfig, validateStepgateConfig } from './stepgate.config';

const USAGE = [
  'usage: npm run policy -- check FILE     validate a config file (exit 0 valid, 1 invalid)',
  '       npm run policy -- schema [OUT]   print (or write to OUT) the JSON Schema of the config file',
  '       npm run policy -- simulate --candidate FILE [--from TIME] [--to TIME] [--config FILE] [--sample N] [--json]',
  '                                        replay the accesses risk recorded under a candidate policy (YAML or JSON:',
  "                                        parts of the config file's risk: and policy: sections); DATABASE_URL or",
  '                                        STEPGATE_DATA_DIR names the database as for the services; TIME is ISO 8601',
  '                                        with its zone, e.g. 2026-11-01T00:00:00Z',
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

/** Usage errors exit 2, an unreadable or invalid candidate or config 1. */
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
  if (
    !values.candidate ||
    Number.isNaN(from) ||
    Number.isNaN(to) ||
    (from !== undefined && to !== undefined && from >= to) ||
    (sample !== undefined && !(Number.isInteger(sample) && sample >= 0 && sample <= 500))
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
  let inForce;
  try {
    inForce = { config: loadRiskConfig(runtime), routes: loadRouteViews(runtime) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) console.error(`${runtime.configFile}: ${p}`);
    return 1;
  }
  const sqlite = join(runtime.dataDir, 'risk.sqlite');
  if (!runtime.databaseUrl && !existsSync(sqlite)) {
    console.error(
      `no risk database at ${sqlite} (set STEPGATE_DATA_DIR or DATABASE_URL as for the services)`,
    );
    return 1;
  }
  // Read only: no migrations from a reporting command.
  const db = new DataSource({ ...riskDataSourceOptions(runtime), migrationsRun: false, logging: ['error'] });
  await db.initialize();
  try {
    const report = await simulate(db.manager, inForce, { candidate, from, to, sample });
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else console.log(describeReport(report).join('\n'));
    return 0;
  } catch (err) {
    if (!(err instanceof InvalidCandidate)) throw err;
    for (const p of err.problems) console.error(`${values.candidate}: ${p}`);
    console.error(
      `${values.candidate}: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}`,
    );
    return 1;
  } finally {
    await db.destroy();
  }
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
