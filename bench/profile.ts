// `npm run bench -- profile DIR [--cpu-us N]`: summarises the CPU profiles `npm run bench -- gateway --profile`
// saved (one .cpuprofile per profiled run, named <target>-<round>), by target and component; with the
// target's measured CPU per request (--cpu-us, from the run's JSON), each component's share in microseconds.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { summariseProfiles, type CpuProfile } from './profile-summary';

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'cpu-us': { type: 'string', multiple: true, default: [] } },
  });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: npm run bench -- profile DIR [--cpu-us target=N ...]');
  const cpu = new Map(values['cpu-us'].map((kv) => kv.split('=') as [string, string]));
  const byTarget = new Map<string, CpuProfile[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const target = file.replace(/-\d+\.cpuprofile$/, '');
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    byTarget.set(target, [...(byTarget.get(target) ?? []), profile]);
  }
  for (const [target, profiles] of byTarget) {
    const summary = summariseProfiles(profiles);
    const us = Number(cpu.get(target) ?? Number.NaN);
    console.log(
      `\n${target}: ${profiles.length} runs, ${summary.busy_ms} ms busy${Number.isNaN(us) ? '' : `, ${us} us/req`}`,
    );
    for (const c of summary.components.slice(0, 20))
      console.log(
        `  ${c.component.padEnd(34)} ${c.share_pct.toFixed(1).padStart(5)}%${Number.isNaN(us) ? '' : `  ${String(Math.round((c.share_pct / 100) * us)).padStart(5)} us`}`,
      );
  }
}
