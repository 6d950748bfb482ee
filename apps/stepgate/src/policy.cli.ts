// `npm run policy -- check FILE`: validates a config file without starting anything. Valid: a short summary
// and exit 0. Invalid: every problem as `FILE:LINE:COL path: message` (the form editors and CI annotate)
// and exit 1. `npm run policy -- schema [OUT]` writes the JSON Schema generated from the services' schemas.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type ConfigIssue, pathOf } from '@stepgate/config';
import { policyVersionOf } from '../../risk/src/config';
import { MODEL_NAME } from '../../risk/src/scoring/risk.model';
import { renderJsonSchema, type StepgateConfig, validateStepgateConfig } from './stepgate.config';

const USAGE = [
  'usage: npm run policy -- check FILE     validate a config file (exit 0 valid, 1 invalid)',
  '       npm run policy -- schema [OUT]   print (or write to OUT) the JSON Schema of the config file',
].join('\n');

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

function main(args: string[]): number {
  const [command, file, ...rest] = args;
  if (command === 'check' && file && rest.length === 0) return check(file);
  if (command === 'schema' && rest.length === 0) {
    if (file) writeFileSync(file, renderJsonSchema());
    else process.stdout.write(renderJsonSchema());
    return 0;
  }
  console.error(USAGE);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
