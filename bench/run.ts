// `npm run bench -- <name>`: runs one benchmark from bench/ and writes its JSON under bench/results/.
import * as backtest from './backtest';
import * as gateway from './gateway';
import * as log from './log';
import * as profile from './profile';
import * as risk from './risk';

const BENCHES: Record<string, { main(args: string[]): Promise<void> }> = {
  backtest,
  gateway,
  log,
  profile,
  risk,
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const bench = name ? BENCHES[name] : undefined;
  if (!bench) throw new Error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>`);
  await bench.main(args);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
