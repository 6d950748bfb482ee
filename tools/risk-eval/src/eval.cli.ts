// `npm run eval:risk [-- options]`: scores a labelled access stream through the risk service's own code and
// reports how many attacker accesses each threshold steps up against how many legitimate ones.
//   --input FILE.jsonl    an external stream (one JSON object per line; see access-stream.ts)
//   --rba FILE.csv        the RBA login dataset (Wiefling et al.), converted (see rba-dataset.ts)
//   --out FILE            the JSON report (default bench/results/risk-eval.json); the SVG goes beside it
//   --scores FILE         one {"score","level"} line per input access, in input order
//   --seed N --users N --days N --attacks N   the synthetic population (default 1, 300, 60, 400 per model)
// STEPGATE_CONFIG picks the config (default config/stepgate.yaml); the database is a throwaway SQLite.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { ConfigError, readRuntimeEnv } from '@stepgate/config';
import { AssessmentService } from '../../../apps/risk/src/assessments/assessment.service';
import { loadRiskConfig } from '../../../apps/risk/src/config';
import { RiskPolicyService } from '../../../apps/risk/src/policy/risk-policy.service';
import { RiskModule } from '../../../apps/risk/src/risk.module';
import { InputError, parseAccessStream, type LabelledAccess } from './access-stream';
import { caughtByDevice, counts, legitByCohort, pointAt, replay, thresholdFor } from './evaluation';
import { parseRbaCsv, rbaToAccessLines } from './rba-dataset';
import { DEFAULT_SYNTHETIC, syntheticStream } from './synthetic';
import { tradeOffSvg } from './trade-off.svg';

/** The route the stream is scored for: the shipped policy's, stepping up at medium and high. */
const ROUTE = 'payments';

interface Args {
  input?: string;
  rba?: string;
  out: string;
  scores?: string;
  seed: number;
  users: number;
  days: number;
  attacks: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    out: 'bench/results/risk-eval.json',
    seed: DEFAULT_SYNTHETIC.seed,
    users: DEFAULT_SYNTHETIC.users,
    days: DEFAULT_SYNTHETIC.days,
    attacks: DEFAULT_SYNTHETIC.attacksPerModel,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
    i++;
    const n = () => {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`${flag} must be a positive integer`);
      return Number(value);
    };
    switch (flag) {
      case '--input':
        args.input = value;
        break;
      case '--rba':
        args.rba = value;
        break;
      case '--out':
        args.out = value;
        break;
      case '--scores':
        args.scores = value;
        break;
      case '--seed':
        args.seed = n();
        break;
      case '--users':
        args.users = n();
        break;
      case '--days':
        args.days = n();
        break;
      case '--attacks':
        args.attacks = n();
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (args.input && args.rba) throw new Error('--input and --rba exclude each other');
  return args;
}

function loadStream(args: Args): { stream: LabelledAccess[]; source: string } {
  if (args.input) {
    return { stream: parseAccessStream(readFileSync(args.input, 'utf8'), args.input), source: args.input };
  }
  if (args.rba) {
    const lines = rbaToAccessLines(parseRbaCsv(readFileSync(args.rba, 'utf8'), args.rba));
    return {
      stream: parseAccessStream(lines.join('\n'), args.rba),
      source: `${args.rba} (RBA dataset, successful logins; device = user + user-agent string)`,
    };
  }
  const options = {
    ...DEFAULT_SYNTHETIC,
    seed: args.seed,
    users: args.users,
    days: args.days,
    attacksPerModel: args.attacks,
  };
  return {
    stream: syntheticStream(options),
    source: `synthetic: seed ${options.seed}, ${options.users} users, ${options.days} days, ${options.attacksPerModel} attacks per model`,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const { stream, source } = loadStream(args);
  // tmpfs when there is one: the evaluation's database is thrown away.
  const scratch = mkdtempSync(join(tmpdir().startsWith('/tmp') ? '/dev/shm' : tmpdir(), 'stepgate-eval-'));
  const runtime = readRuntimeEnv({
    STEPGATE_CONFIG: process.env.STEPGATE_CONFIG,
    STEPGATE_DATA_DIR: scratch,
    STEPGATE_RISK_PORT: '0',
    STEPGATE_INSTANCE_ID: 'risk-eval',
  });
  const config = { ...loadRiskConfig(runtime), reload: { watch: false, debounceMs: 0 } };
  const app = await NestFactory.createApplicationContext(RiskModule.forRoot(config, runtime), {
    logger: ['error', 'warn'],
    abortOnError: false,
  });
  try {
    const policy = app.get(RiskPolicyService).current;
    const thresholds = policy.config.thresholds;
    const route = policy.learning.routes.get(ROUTE);
    if (!route) throw new Error(`the policy in force has no route "${ROUTE}" to evaluate`);
    console.error(`scoring ${stream.length} accesses from ${source} with ${policy.version}`);
    const scored = await replay(stream, app.get(AssessmentService), route, (done) =>
      console.error(`  ${done} / ${stream.length}`),
    );
    const curve = Array.from({ length: 101 }, (_, t) => pointAt(scored, t));
    const operating = pointAt(scored, thresholds.medium);
    const aim = thresholdFor(curve, 0.995);
    const targets = aim && {
      legit_10_plus_at_most_5_percent: (aim.legit_stepped_up.history_10_plus ?? 0) <= 0.05,
      replay_foreign_at_least_99_percent:
        aim.caught.replay_foreign === null ? null : aim.caught.replay_foreign >= 0.99,
    };
    const report = {
      generated_by: 'npm run eval:risk',
      input: source,
      model_version: policy.version,
      elapsed_seconds: Math.round((Date.now() - started) / 1000),
      learning:
        'in time order through AssessmentService, as the service learns (from its own score of each access): ' +
        `the ${ROUTE} route of the policy in force decides at each level; a legitimate step-up passes at the ` +
        "level's acr and its retry is allowed, attacks stepped up fail their challenge; denied is denied. " +
        `Decisions use the configured thresholds (medium ${thresholds.medium}, critical ${thresholds.critical}); ` +
        'the curve re-reads the same scores at every threshold.',
      counts: counts(scored),
      operating_point: {
        threshold: operating.threshold,
        threshold_is: 'risk.thresholds.medium, the level at which the payments route steps up',
        caught: operating.caught,
        legit_stepped_up: operating.legit_stepped_up,
        legit_stepped_up_by_cohort: legitByCohort(scored, thresholds.medium),
      },
      caught_at_operating_point_by_device_id: caughtByDevice(scored, thresholds.medium),
      aim: {
        description:
          'the highest threshold stepping up >= 99.5% of naive, vpn and targeted attacks; legit 10+ there ' +
          'should be <= 5% and replay-foreign caught >= 99%',
        point: aim,
        legit_stepped_up_by_cohort: aim && legitByCohort(scored, aim.threshold),
        targets,
      },
      curve,
    };
    const out = resolve(args.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    const svg = out.replace(/\.json$/, '') + '.svg';
    writeFileSync(
      svg,
      tradeOffSvg(curve, operating, `StepGate risk ${policy.version}: ${source}`.slice(0, 110)),
    );
    if (args.scores) {
      writeFileSync(
        args.scores,
        scored.map((s) => JSON.stringify({ score: s.score, level: s.level })).join('\n') + '\n',
      );
    }
    console.log(JSON.stringify({ operating_point: report.operating_point, aim: report.aim }, null, 2));
    console.error(`wrote ${out} and ${svg}${args.scores ? ` and ${args.scores}` : ''}`);
  } finally {
    await app.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError || err instanceof InputError ? err.message : err);
  process.exit(1);
});
