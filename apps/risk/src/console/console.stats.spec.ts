import { describe, expect, it } from 'vitest';
import {
  BIN_COUNT,
  binOf,
  bucketSizeFor,
  DEFAULT_WINDOW_MS,
  histogram,
  MAX_BUCKETS,
  MAX_WINDOW_MS,
  parseTime,
  rateSeries,
  windowOf,
} from './console.stats';

const HOUR = 3_600_000;

describe(binOf.name, () => {
  it('puts scores in bins of 5, with 100 in the last one and out-of-range scores clamped', () => {
    expect([0, 4, 5, 29, 30, 94, 95, 99, 100].map(binOf)).toEqual([0, 0, 1, 5, 6, 18, 19, 19, 19]);
    expect(binOf(-3)).toBe(0);
    expect(binOf(140)).toBe(19);
    expect(binOf(12.7)).toBe(2);
  });
});

describe(histogram.name, () => {
  it('has 20 bins covering 0-100 and stacks counts by decision', () => {
    const sut = histogram([
      { score: 0, decision: 'allow', count: 3 },
      { score: 4, decision: 'allow', count: 1 },
      { score: 50, decision: 'step_up', count: 2 },
      { score: 52, decision: 'deny', count: 1 },
      { score: 100, decision: 'deny', count: 5 },
      { score: 96, decision: null, count: 1 },
      { score: 97, decision: 'unauthenticated', count: 1 },
    ]);
    expect(sut).toHaveLength(BIN_COUNT);
    expect(sut[0]).toEqual({ from: 0, to: 4, total: 4, allow: 4, step_up: 0, deny: 0, other: 0 });
    expect(sut[10]).toMatchObject({ from: 50, to: 54, total: 3, step_up: 2, deny: 1 });
    expect(sut[19]).toEqual({ from: 95, to: 100, total: 7, allow: 0, step_up: 0, deny: 5, other: 2 });
    expect(sut.reduce((n, b) => n + b.total, 0)).toBe(14);
  });
});

describe(bucketSizeFor.name, () => {
  it('picks the smallest readable size that keeps the window within the bucket limit', () => {
    expect(bucketSizeFor(HOUR)).toBe(5 * 60_000); // 12 buckets
    expect(bucketSizeFor(DEFAULT_WINDOW_MS)).toBe(HOUR / 2); // 48
    expect(bucketSizeFor(7 * 24 * HOUR)).toBe(6 * HOUR); // 28
    expect(bucketSizeFor(30 * 24 * HOUR)).toBe(24 * HOUR); // 30
    expect(bucketSizeFor(60_000)).toBe(60_000);
  });

  it('never makes more than MAX_BUCKETS buckets up to the widest window', () => {
    for (let w = 60_000; w <= MAX_WINDOW_MS; w *= 1.7)
      expect(Math.ceil(w / bucketSizeFor(w))).toBeLessThanOrEqual(MAX_BUCKETS);
    expect(Math.ceil(1e12 / bucketSizeFor(1e12))).toBeLessThanOrEqual(MAX_BUCKETS);
  });
});

describe(rateSeries.name, () => {
  it('fills every bucket, computes shares, leaves empty buckets without a rate and ends at `to`', () => {
    const from = Date.parse('2025-01-01T00:00:00Z');
    const sut = rateSeries(
      [
        { bucket: 0, decision: 'allow', count: 6 },
        { bucket: 0, decision: 'step_up', count: 3 },
        { bucket: 0, decision: 'deny', count: 1 },
        { bucket: 2, decision: 'deny', count: 2 },
        { bucket: 9, decision: 'deny', count: 2 }, // outside the window: ignored
      ],
      from,
      from + 2.5 * HOUR,
      HOUR,
    );
    expect(sut).toHaveLength(3);
    expect(sut[0]).toMatchObject({
      total: 10,
      stepUpRate: 0.3,
      denyRate: 0.1,
      start: '2025-01-01T00:00:00.000Z',
    });
    expect(sut[1]).toMatchObject({ total: 0, stepUpRate: null, denyRate: null });
    expect(sut[2]).toMatchObject({ total: 2, stepUpRate: 0, denyRate: 1, end: '2025-01-01T02:30:00.000Z' });
  });
});

describe(windowOf.name, () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('defaults to the last 24 hours, and reads from/to as ISO times or epoch ms, and `last`', () => {
    expect(windowOf({}, now)).toEqual({ fromMs: now - DEFAULT_WINDOW_MS, toMs: now });
    expect(windowOf({ from: '2025-06-01T10:00:00Z', to: String(now) }, now)).toEqual({
      fromMs: now - 2 * HOUR,
      toMs: now,
    });
    expect(windowOf({ to: '2025-06-01T00:00:00+02:00' }, now)).toEqual({
      fromMs: Date.parse('2025-05-30T22:00:00Z'),
      toMs: Date.parse('2025-05-31T22:00:00Z'),
    });
    expect(windowOf({ last: '7d' }, now)).toEqual({ fromMs: now - 7 * 24 * HOUR, toMs: now });
  });

  it('says what is wrong with a window it cannot use', () => {
    expect(windowOf({ from: 'yesterday' }, now)).toMatch(/^from:/);
    expect(windowOf({ to: '2025-06-01T10:00:00' }, now)).toMatch(/^to: .*zone/);
    expect(windowOf({ from: String(now), to: String(now) }, now)).toBe('from: must be before to');
    expect(windowOf({ from: '2024-01-01' }, now)).toMatch(/at most 90 days/);
    expect(windowOf({ last: '2w' }, now)).toMatch(/^last: one of 1h/);
    expect(windowOf({ last: '1h', from: '2025-06-01' }, now)).toMatch(/^last: not together/);
  });

  it('parses bare dates as UTC', () => {
    expect(parseTime('2025-06-01')).toBe(Date.parse('2025-06-01T00:00:00Z'));
  });
});
