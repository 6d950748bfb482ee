import type { DecisionChange, RiskAssessment } from '@stepgate/contracts';
import { describe, expect, it } from 'vitest';
import { RiskDecisionCache, type ScoredInputs } from './risk-decision.cache';

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

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

const inputs = (over: Partial<ScoredInputs> = {}): ScoredInputs => ({
  subject: 'alice',
  deviceId: 'd1',
  deviceSource: 'header',
  clientIp: '10.1.2.3',
  userAgent: CHROME,
  route: 'payments',
  ...over,
});

class Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

describe(RiskDecisionCache.name, () => {
  it('reuses a decision only for the inputs risk scored: any changed input is a miss', () => {
    const sut = new RiskDecisionCache(60_000);
    sut.set(inputs(), assessment(5, 'low'));
    for (const changed of [
      { userAgent: FIREFOX },
      { userAgent: '' },
      // Another address of the same /24: risk's lists and geo read the whole address.
      { clientIp: '10.1.2.99' },
      { clientIp: '10.1.3.3' },
      { route: 'reports' },
      { deviceId: 'd2' },
      { deviceId: null, deviceSource: null },
      { deviceSource: 'cookie' as const },
      { subject: 'bob' },
    ]) {
      expect(sut.get(inputs(changed)), JSON.stringify(changed)).toBeUndefined();
    }
    const v6 = (ip: string) => inputs({ clientIp: ip });
    sut.set(v6('2001:db8:1:2::1'), assessment(5, 'low'));
    expect(sut.get(v6('2001:db8:1:2::1'))).toBeDefined();
    expect(sut.get(v6('2001:db8:1:2::2'))).toBeUndefined();
    expect(sut.get(v6('2001:db8:2:2::1'))).toBeUndefined();
  });

  it('keys a client by its canonical address: one address in any spelling, never a neighbour', () => {
    const sut = new RiskDecisionCache(60_000);
    sut.set(inputs({ clientIp: '2001:db8:1::5' }), assessment(5, 'low'));
    // The same address, written otherwise: a hit.
    expect(sut.get(inputs({ clientIp: '2001:0db8:0001:0000::5' }))).toBeDefined();
    expect(sut.get(inputs({ clientIp: '2001:DB8:1:0:0:0:0:5' }))).toBeDefined();
    // Another address of the same /48: a miss.
    expect(sut.get(inputs({ clientIp: '2001:db8:1::6' }))).toBeUndefined();
    // a::b and a::b:c:d:e:f:1 begin alike as text, and are different addresses.
    sut.set(inputs({ clientIp: 'a::b' }), assessment(5, 'low'));
    expect(sut.get(inputs({ clientIp: 'a::b:c:d:e:f:1' }))).toBeUndefined();
    // An IPv4-mapped address is its IPv4 address, and only that one.
    sut.set(inputs({ clientIp: '203.0.113.7' }), assessment(5, 'low'));
    expect(sut.get(inputs({ clientIp: '::ffff:203.0.113.7' }))).toBeDefined();
    expect(sut.get(inputs({ clientIp: '::ffff:203.0.113.9' }))).toBeUndefined();
  });

  it('expires entries after the TTL', () => {
    const clock = new Clock();
    const sut = new RiskDecisionCache(1000, 10, clock);
    sut.set(inputs(), assessment(5, 'low'));
    clock.t += 999;
    expect(sut.get(inputs())).toBeDefined();
    clock.t += 2;
    expect(sut.get(inputs())).toBeUndefined();
  });

  it('caches nothing with a TTL of 0', () => {
    const sut = new RiskDecisionCache(0);
    sut.set(inputs(), assessment(5, 'low'));
    expect(sut.get(inputs())).toBeUndefined();
    expect(sut.invalidate('alice', 'd1')).toEqual({ dropped: 0, kept: 0 });
  });

  it('is bounded: the least recently used entry goes, and leaves the index with it', () => {
    const sut = new RiskDecisionCache(60_000, 2);
    sut.set(inputs({ route: 'a' }), assessment(5, 'low'));
    sut.set(inputs({ route: 'b' }), assessment(5, 'low'));
    sut.set(inputs({ route: 'c' }), assessment(5, 'low'));
    expect(sut.size).toBe(2);
    expect(sut.get(inputs({ route: 'a' }))).toBeUndefined();
    expect(sut.invalidate('alice', 'd1')).toEqual({ dropped: 2, kept: 0 });
    expect(sut.size).toBe(0);
  });

  it('drops what a newer assessment disagrees with and keeps what it confirms at the same level', () => {
    const sut = new RiskDecisionCache(60_000);
    const a = inputs({ clientIp: '10.0.0.1' });
    const b = inputs({ clientIp: '192.168.0.1' });
    const other = inputs({ deviceId: 'd2', clientIp: '10.0.0.1' });
    sut.set(a, assessment(45, 'medium'));
    sut.set(b, assessment(60, 'high'));
    sut.set(other, assessment(60, 'high'));
    expect(sut.invalidate('alice', 'd1', { level: 'medium' })).toEqual({ dropped: 1, kept: 1 });
    expect(sut.get(a)).toBeDefined();
    expect(sut.get(b)).toBeUndefined();
    // Another device is not touched; without a newer assessment, everything of the device goes.
    expect(sut.get(other)).toBeDefined();
    expect(sut.invalidate('alice', 'd1')).toEqual({ dropped: 1, kept: 0 });
    expect(sut.size).toBe(1);
    sut.clear();
    expect(sut.get(other)).toBeUndefined();
  });

  it('invalidates a subject without a device apart from its devices', () => {
    const sut = new RiskDecisionCache(60_000);
    sut.set(inputs({ deviceId: null, deviceSource: null }), assessment(40, 'medium'));
    sut.set(inputs(), assessment(5, 'low'));
    expect(sut.invalidate('alice', null)).toEqual({ dropped: 1, kept: 0 });
    expect(sut.get(inputs())).toBeDefined();
  });

  it('applies a decision change in its scope: one device, or every cached decision of the subject', () => {
    const sut = new RiskDecisionCache(60_000);
    const change = (over: Partial<DecisionChange>): DecisionChange => ({
      changeId: '00000000-0000-4000-8000-000000000002',
      time: new Date(0).toISOString(),
      correlationId: '00000000-0000-4000-8000-000000000003',
      causationId: '00000000-0000-4000-8000-000000000004',
      cause: 'access',
      scope: 'device',
      subject: 'alice',
      deviceId: 'd1',
      level: 'medium',
      ...over,
    });
    const fill = () => {
      sut.set(inputs(), assessment(5, 'low'));
      sut.set(inputs({ route: 'reports' }), assessment(45, 'medium'));
      sut.set(inputs({ deviceId: 'd2' }), assessment(5, 'low'));
      sut.set(inputs({ deviceId: null, deviceSource: null }), assessment(5, 'low'));
      sut.set(inputs({ subject: 'bob' }), assessment(5, 'low'));
    };
    fill();
    // The device's decisions at another level go; the same level, other devices and other subjects stay.
    expect(sut.apply(change({}))).toEqual({ dropped: 1, kept: 1 });
    expect(sut.get(inputs())).toBeUndefined();
    expect(sut.get(inputs({ route: 'reports' }))).toBeDefined();
    expect(sut.size).toBe(4);
    // Without a level, every decision of the subject goes, with or without a device; bob's stays.
    expect(
      sut.apply(change({ scope: 'subject', deviceId: null, level: null, cause: 'challenge_outcome' })),
    ).toEqual({
      dropped: 3,
      kept: 0,
    });
    expect(sut.size).toBe(1);
    expect(sut.get(inputs({ subject: 'bob' }))).toBeDefined();
    // The index follows what leaves the cache: refilled and cleared by subject again, nothing is left behind.
    fill();
    expect(sut.apply(change({ scope: 'subject', level: 'low' }))).toEqual({ dropped: 1, kept: 3 });
    expect(sut.apply(change({ scope: 'subject', subject: 'carol' }))).toEqual({ dropped: 0, kept: 0 });
  });
});
