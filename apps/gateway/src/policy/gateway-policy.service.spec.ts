import { resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { readRuntimeEnv } from '@stepgate/config';
import type { PolicyVersion } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadGatewayConfig, type GatewayConfig } from '../config';
import { GatewayMetrics } from '../health/gateway.metrics';
import { GatewayPolicyService } from './gateway-policy.service';

describe(GatewayPolicyService.name, () => {
  let config: GatewayConfig;
  let metrics: GatewayMetrics;
  let sut: GatewayPolicyService;
  const errors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);

  const published = (version: number, policy: unknown): PolicyVersion => ({
    lineage: 'a1b2c3d4e5f60718',
    version,
    hash: '0'.repeat(64),
    document: { policy: policy as Record<string, unknown>, risk: {} },
    author: 'alice',
    source: 'api',
    restores: null,
    comment: null,
    createdAt: new Date().toISOString(),
  });
  const denyReports = () => ({
    ...config.policy,
    routes: config.policy.routes.map((r) =>
      r.id === 'reports'
        ? { ...r, decisions: { low: 'deny', medium: 'deny', high: 'deny', critical: 'deny' } }
        : r,
    ),
  });
  const reports = () => sut.current.routes.find((r) => r.policy.id === 'reports')!.policy;

  beforeEach(() => {
    config = loadGatewayConfig(
      readRuntimeEnv({ STEPGATE_CONFIG: resolve(__dirname, '../../../../config/stepgate.yaml') }),
    );
    metrics = new GatewayMetrics();
    sut = new GatewayPolicyService(config, {} as MessageBus, metrics);
    errors.mockClear();
  });

  afterEach(() => metrics.registry.clear());

  it('starts on the config file, shown as version "file" with its hash', async () => {
    expect(sut.current.version).toBeNull();
    expect(await metrics.registry.metrics()).toMatch(
      new RegExp(
        `stepgate_gateway_policy_info\\{version="file",hash="${sut.current.hash}",service="gateway"\\} 1`,
      ),
    );
  });

  it('applies newer versions only, so a late or repeated one never goes back', async () => {
    expect(sut.apply(published(2, denyReports()))).toBe(true);
    expect(sut.current.version).toBe(2);
    expect(reports().decisions.low).toBe('deny');
    expect(sut.apply(published(2, config.policy))).toBe(false);
    expect(sut.apply(published(1, config.policy))).toBe(false);
    expect(reports().decisions.low).toBe('deny');
    expect(sut.apply(published(3, config.policy))).toBe(true);
    expect(reports().decisions.low).toBe('allow');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /stepgate_gateway_policy_info\{version="3",hash="[0-9a-f]{12}",service="gateway"\} 1/,
    );
    expect(text).toMatch(/stepgate_gateway_policy_reloads_total\{result="applied",service="gateway"\} 2/);
  });

  it('rejects a version that does not validate, or names an upstream it was not started with', async () => {
    const before = sut.current;
    expect(sut.apply(published(2, { ...config.policy, routes: [{ id: 'x' }] }))).toBe(false);
    const elsewhere = {
      ...config.policy,
      routes: config.policy.routes.map((r) => (r.id === 'reports' ? { ...r, upstream: 'elsewhere' } : r)),
    };
    expect(sut.apply(published(3, elsewhere))).toBe(false);
    expect(sut.current).toBe(before);
    expect(String(errors.mock.calls[1]![0])).toMatch(
      /policy version 3 rejected, keeping the file: policy\.routes\.1\.upstream: unknown upstream "elsewhere" \(a new upstream needs a restart\)/,
    );
    expect(await metrics.registry.metrics()).toMatch(
      /stepgate_gateway_policy_reloads_total\{result="rejected",service="gateway"\} 2/,
    );
    // The next valid one applies.
    expect(sut.apply(published(4, denyReports()))).toBe(true);
  });

  it('follows a store started afresh (another lineage, made later), never back to an older one', () => {
    const at = (iso: string) => ({ createdAt: iso });
    expect(sut.apply({ ...published(7, denyReports()), ...at('2026-11-28T10:00:00Z') })).toBe(true);
    const fresh = {
      ...published(1, config.policy),
      lineage: 'ffffffffffffffff',
      ...at('2026-11-28T11:00:00Z'),
    };
    expect(sut.apply(fresh)).toBe(true);
    expect(sut.current.version).toBe(1);
    expect(reports().decisions.low).toBe('allow');
    // An instance still pointed at the old store republishes its head at start: older, ignored.
    expect(sut.apply({ ...published(7, denyReports()), ...at('2026-11-28T10:00:00Z') })).toBe(false);
    expect(reports().decisions.low).toBe('allow');
    expect(sut.apply({ ...fresh, version: 2 })).toBe(true);
  });
});
