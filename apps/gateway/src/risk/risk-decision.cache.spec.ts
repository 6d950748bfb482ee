import type { RiskAssessment } from '@stepgate/contracts';
import { describe, expect, it } from 'vitest';
import { RiskDecisionCache } from './risk-decision.cache';

const assessment = (score: number, level: RiskAssessment['level']): RiskAssessment => ({
  assessmentId: '00000000-0000-4000-8000-000000000000',
  time: new Date(0).toISOString(),
  correlationId: '00000000-0000-4000-8000-000000000001',
  causationId: null,
  subject: 'alice',
  deviceId: 'd1',
  score,
  level,
  signals: [],
  deviceStatus: 'seen',
  modelVersion: 't',
});

describe(RiskDecisionCache.name, () => {
  it('keys by subject, device, client network and route class', () => {
    const k = (ip: string, route: string) => RiskDecisionCache.key('alice', 'd1', ip, route);
    expect(k('10.1.2.3', 'payments')).toBe(k('10.1.2.99', 'payments'));
    expect(k('10.1.2.3', 'payments')).not.toBe(k('10.1.3.3', 'payments'));
    expect(k('10.1.2.3', 'payments')).not.toBe(k('10.1.2.3', 'reports'));
    expect(k('2001:db8:1:2::1', 'r')).toBe(k('2001:db8:1:ffff::9', 'r'));
  });

  it('expires entries after the TTL', () => {
    const sut = new RiskDecisionCache(1000);
    sut.set('k', assessment(5, 'low'), 0);
    expect(sut.get('k', 999)).toBeDefined();
    expect(sut.get('k', 1000)).toBeUndefined();
  });

  it('drops what a newer assessment disagrees with and keeps what it confirms at the same level', () => {
    const sut = new RiskDecisionCache(60_000);
    const a = RiskDecisionCache.key('alice', 'd1', '10.0.0.1', 'payments');
    const b = RiskDecisionCache.key('alice', 'd1', '192.168.0.1', 'payments');
    const other = RiskDecisionCache.key('alice', 'd2', '10.0.0.1', 'payments');
    sut.set(a, assessment(45, 'medium'), 0);
    sut.set(b, assessment(60, 'high'), 0);
    sut.set(other, assessment(60, 'high'), 0);
    expect(sut.invalidate('alice', 'd1', { level: 'medium' })).toEqual({ dropped: 1, kept: 1 });
    expect(sut.get(a, 1)).toBeDefined();
    expect(sut.get(b, 1)).toBeUndefined();
    // Another device is not touched; without a newer assessment, everything of the device goes.
    expect(sut.get(other, 1)).toBeDefined();
    expect(sut.invalidate('alice', 'd1')).toEqual({ dropped: 1, kept: 0 });
    expect(sut.size).toBe(1);
  });
});
