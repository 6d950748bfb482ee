import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadRiskConfig } from '../config';
import { RiskPolicy } from './risk-policy.service';

const shipped = readFileSync(resolve(__dirname, '../../../../config/stepgate.yaml'), 'utf8');

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe(RiskPolicy.name, () => {
  let dir: string;
  let file: string;
  let sut: RiskPolicy;
  const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

  const runtime = () => ({ configFile: file, env: { STEPGATE_RISK_PORT: '0' } });
  const edit = (from: string, to: string) => {
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(from);
    // Written beside and renamed over, as editors and config management do.
    writeFileSync(`${file}.tmp`, text.replace(from, to));
    renameSync(`${file}.tmp`, file);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepgate-policy-'));
    file = join(dir, 'stepgate.yaml');
    writeFileSync(file, shipped.replace('debounceMs: 250', 'debounceMs: 20'));
    sut = new RiskPolicy(loadRiskConfig(runtime()), runtime());
    errors.mockClear();
  });

  afterEach(() => {
    sut.onModuleDestroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the model and a hash of the config in its version', () => {
    expect(sut.current.version).toMatch(/^lr-1\/cfg-[0-9a-f]{8}$/);
  });

  it('applies a valid change to the file without a restart, atomically', async () => {
    sut.onModuleInit();
    const before = sut.current;
    const seen: string[] = [];
    sut.onChange((p) => seen.push(p.version));
    edit(
      'thresholds: { medium: 30, high: 60, critical: 85 }',
      'thresholds: { medium: 40, high: 60, critical: 85 }',
    );
    await until('the new policy', () => sut.current !== before);
    expect(sut.current.config.thresholds.medium).toBe(40);
    expect(sut.current.scoring.thresholds.medium).toBe(40);
    expect(sut.current.version).not.toBe(before.version);
    expect(seen).toEqual([sut.current.version]);
    // The old policy object is untouched: a scoring in flight keeps a consistent view.
    expect(before.config.thresholds.medium).toBe(30);
  });

  it('keeps the old policy and logs every problem when a change does not validate', async () => {
    sut.onModuleInit();
    const before = sut.current;
    edit('newDevice: 50', 'newDevice: lots');
    await until('the rejection', () => errors.mock.calls.length > 0);
    expect(sut.current).toBe(before);
    expect(String(errors.mock.calls[0]![0])).toMatch(
      /config change rejected, keeping policy lr-1\/cfg-.*risk\.weights\.newDevice/,
    );
    // A later valid change still applies.
    edit('newDevice: lots', 'newDevice: 55');
    await until('the fixed policy', () => sut.current !== before);
    expect(sut.current.config.weights.newDevice).toBe(55);
  });

  it('keeps http and kafka at their start values (they need a restart)', () => {
    edit("port: '${STEPGATE_RISK_PORT:-8081}'", "port: '9999'");
    edit('newDevice: 50', 'newDevice: 51');
    expect(sut.reload()).toBe(true);
    expect(sut.current.config.http.port).toBe(0);
    expect(sut.current.config.weights.newDevice).toBe(51);
  });

  it('changes nothing when the policy did not change', () => {
    edit('# Score at or above', '# Still: score at or above');
    const before = sut.current;
    expect(sut.reload()).toBe(false);
    expect(sut.current).toBe(before);
  });

  it('does not watch when reload.watch is false', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace('watch: true', 'watch: false'));
    sut = new RiskPolicy(loadRiskConfig(runtime()), runtime());
    sut.onModuleInit();
    const before = sut.current;
    edit('newDevice: 50', 'newDevice: 52');
    await sleep(200);
    expect(sut.current).toBe(before);
  });
});
