import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import type { PolicyVersion } from '@stepgate/contracts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { documentHash, loadFileDocument, type PolicyDocument } from '@stepgate/policy';
import { loadRiskConfig, riskSectionSchema } from '../config';
import { RiskPolicyService } from './risk-policy.service';

const shipped = readFileSync(resolve(__dirname, '../../../../config/stepgate.yaml'), 'utf8');

describe(RiskPolicyService.name, () => {
  let dir: string;
  let sut: RiskPolicyService;
  let base: PolicyDocument;
  const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

  const published = (version: number, document: unknown): PolicyVersion => ({
    lineage: 'a1b2c3d4e5f60718',
    version,
    hash: documentHash(document),
    document: document as PolicyVersion['document'],
    author: 'alice',
    source: 'api',
    restores: null,
    comment: null,
    createdAt: new Date().toISOString(),
  });
  const withRisk = (risk: Partial<PolicyDocument['risk']>): PolicyDocument => ({
    ...base,
    risk: { ...base.risk, ...risk },
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepgate-policy-'));
    const file = join(dir, 'stepgate.yaml');
    writeFileSync(file, shipped);
    const runtime = { configFile: file, env: { STEPGATE_RISK_PORT: '0' } };
    sut = new RiskPolicyService(loadRiskConfig(runtime), runtime, null);
    base = loadFileDocument(runtime, riskSectionSchema).document;
    errors.mockClear();
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts on the config file: no published version yet, the model and a config hash in its version', () => {
    expect(sut.current.policyVersion).toBeNull();
    expect(sut.current.version).toMatch(/^lr-2\/cfg-[0-9a-f]{8}$/);
    expect(sut.routes.map((r) => r.id)).toEqual(['stepgate-admin', 'reports', 'payments', 'admin']);
  });

  it('applies a newer published version atomically, routes included', () => {
    const before = sut.current;
    const seen: (number | null)[] = [];
    sut.onChange((p) => seen.push(p.policyVersion));
    const reports = base.policy.routes[1]!;
    const next = {
      ...withRisk({ thresholds: { medium: 40, high: 60, critical: 85 } }),
      policy: {
        ...base.policy,
        routes: [{ ...reports, decisions: { low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' } }],
      },
    };
    expect(sut.apply(published(3, next))).toBe(true);
    expect(sut.current.policyVersion).toBe(3);
    expect(sut.current.config.thresholds.medium).toBe(40);
    expect(sut.current.scoring.thresholds.medium).toBe(40);
    expect(sut.current.version).not.toBe(before.version);
    expect(sut.routes).toEqual([
      {
        id: 'reports',
        decisions: { low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' },
        onRiskUnavailable: 'allow',
        mode: 'enforce',
      },
    ]);
    // What an access teaches follows the same version: its routes and acr levels.
    expect([...sut.current.learning.routes.keys()]).toEqual(['reports']);
    expect(sut.current.learning.acrLevels).toEqual(base.policy.acr.levels);
    expect(before.learning.routes.get('payments')?.stepUp?.acrByLevel).toEqual({
      high: 'urn:stepgate:acr:phr',
    });
    expect(seen).toEqual([3]);
    // The old policy object is untouched: a scoring in flight keeps a consistent view.
    expect(before.config.thresholds.medium).toBe(30);
  });

  it('ignores a version it already has or an older one (a late republish never goes back)', () => {
    expect(sut.apply(published(5, withRisk({ failureWindowSeconds: 600 })))).toBe(true);
    expect(sut.apply(published(5, withRisk({ failureWindowSeconds: 700 })))).toBe(false);
    expect(sut.apply(published(4, withRisk({ failureWindowSeconds: 800 })))).toBe(false);
    expect(sut.current.config.failureWindowSeconds).toBe(600);
  });

  it('keeps the policy in force and logs every problem when a version does not validate', () => {
    const before = sut.current;
    const bad = { ...base, risk: { ...base.risk, weights: { ...base.risk.weights, newDevice: 'lots' } } };
    expect(sut.apply(published(2, bad))).toBe(false);
    expect(sut.current).toBe(before);
    expect(String(errors.mock.calls[0]![0])).toMatch(
      /policy version 2 rejected, keeping the file: risk: weights\.newDevice/,
    );
    // A later valid version still applies.
    expect(sut.apply(published(3, withRisk({ failureWindowSeconds: 600 })))).toBe(true);
  });

  it('keeps http, admin, kafka and reload at their start values (they are not policy)', () => {
    const next = { ...base, risk: { ...base.risk, http: { host: 'x', port: 1 } } };
    expect(sut.apply(published(2, next))).toBe(false);
    expect(sut.apply(published(3, withRisk({ failureWindowSeconds: 600 })))).toBe(true);
    expect(sut.current.config.http.port).toBe(0);
    expect(sut.current.config.admin.changeAcr).toBe('urn:stepgate:acr:mfa');
  });
});
