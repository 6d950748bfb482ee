// The console's arithmetic, without Nest or a database: the time window, score bins, rate buckets and the
// shapes the page and data.json share. The service feeds it grouped counts from SQL.
import type { RiskLevel } from '@stepgate/contracts';
import type { VersionSummary } from '../policy/version-summary';

export const BIN_WIDTH = 5;
export const BIN_COUNT = 100 / BIN_WIDTH;
/** Decisions the console counts apart; anything else (older rows without one) is `other`. */
export const DECISIONS = ['allow', 'step_up', 'deny'] as const;
export type CountedDecision = (typeof DECISIONS)[number] | 'other';

export const DEFAULT_WINDOW_MS = 24 * 3_600_000;
/** The widest window the console reads: the rate buckets stay few and the queries stay on the time index. */
export const MAX_WINDOW_MS = 90 * 86_400_000;
/** Named windows for the quick links (`?last=7d`). */
export const LAST: Record<string, number> = {
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': DEFAULT_WINDOW_MS,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Bucket sizes a person reads at a glance; the smallest that keeps a window within MAX_BUCKETS wins. */
export const BUCKET_SIZES_MS = [
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
];
export const MAX_BUCKETS = 48;

export interface Thresholds {
  medium: number;
  high: number;
  critical: number;
}

export type DecisionCounts = Record<CountedDecision, number>;

export interface Bin extends DecisionCounts {
  /** Scores from `from` to `to` inclusive (the last bin holds 95-100). */
  from: number;
  to: number;
  total: number;
}

export interface RateBucket extends DecisionCounts {
  start: string;
  end: string;
  total: number;
  /** Shares of the bucket's decisions, 0-1; null for a bucket without traffic. */
  stepUpRate: number | null;
  denyRate: number | null;
}

export interface RouteView {
  /** null for assessments recorded before risk kept the route. */
  route: string | null;
  total: number;
  decisions: DecisionCounts;
  histogram: Bin[];
}

export interface SignalView {
  name: string;
  /** Assessments in which it moved the score (a non-zero contribution). */
  fired: number;
  /** Its contributions summed, in points. */
  points: number;
}

export interface DecisionView {
  time: string;
  subject: string;
  deviceId: string | null;
  route: string | null;
  score: number;
  level: RiskLevel;
  decision: string | null;
  modelVersion: string;
  signals: { name: string; weight: number; detail: string }[];
}

export interface ConsoleData {
  window: { from: string; to: string; bucketSeconds: number };
  /** The route filter, when one is set. */
  route: string | null;
  /** The model and config stamp on assessments, `lr-2/cfg-<hash>`. */
  policyVersion: string;
  /** The stored policy version the thresholds drawn belong to (null: still the config file's, at start). */
  versionInForce: number | null;
  thresholds: Thresholds;
  /** Every route with traffic in the window (busiest first), for the filter. */
  routesSeen: string[];
  total: number;
  decisions: DecisionCounts;
  routes: RouteView[];
  rates: RateBucket[];
  topSignals: SignalView[];
  recent: DecisionView[];
  /** The newest stored policy versions, newest (the head) first. */
  versions: VersionSummary[];
}

export const noDecisions = (): DecisionCounts => ({ allow: 0, step_up: 0, deny: 0, other: 0 });

export function countedDecision(decision: string | null): CountedDecision {
  return (DECISIONS as readonly string[]).includes(decision ?? '') ? (decision as CountedDecision) : 'other';
}

/** The bin of a score: 0-4 is 0, ..., 95-100 is 19 (100 has no bin of its own). Out-of-range scores clamp. */
export function binOf(score: number): number {
  const clamped = Math.min(100, Math.max(0, Math.floor(score)));
  return Math.min(BIN_COUNT - 1, Math.floor(clamped / BIN_WIDTH));
}

/** Bins counts of (score, decision) into the 20 bins of 5 points. */
export function histogram(rows: readonly { score: number; decision: string | null; count: number }[]): Bin[] {
  const bins: Bin[] = Array.from({ length: BIN_COUNT }, (_, i) => ({
    from: i * BIN_WIDTH,
    to: i === BIN_COUNT - 1 ? 100 : (i + 1) * BIN_WIDTH - 1,
    total: 0,
    ...noDecisions(),
  }));
  for (const row of rows) {
    const bin = bins[binOf(row.score)]!;
    bin[countedDecision(row.decision)] += row.count;
    bin.total += row.count;
  }
  return bins;
}

/** The smallest readable bucket size that cuts the window into at most `maxBuckets` buckets. */
export function bucketSizeFor(windowMs: number, maxBuckets = MAX_BUCKETS): number {
  for (const size of BUCKET_SIZES_MS) if (Math.ceil(windowMs / size) <= maxBuckets) return size;
  // Wider than the largest size allows: stretch it (only reachable for windows beyond MAX_WINDOW_MS).
  return Math.ceil(windowMs / maxBuckets);
}

/**
 * Every bucket of the window, empty ones included, from counts per (bucket index, decision); the index is
 * `floor((time - from) / size)`. The last bucket ends at `to`.
 */
export function rateSeries(
  rows: readonly { bucket: number; decision: string | null; count: number }[],
  fromMs: number,
  toMs: number,
  sizeMs: number,
): RateBucket[] {
  const n = Math.max(1, Math.ceil((toMs - fromMs) / sizeMs));
  const counts = Array.from({ length: n }, () => ({ total: 0, ...noDecisions() }));
  for (const row of rows) {
    const c = counts[row.bucket];
    if (!c) continue;
    c[countedDecision(row.decision)] += row.count;
    c.total += row.count;
  }
  return counts.map((c, i) => ({
    start: new Date(fromMs + i * sizeMs).toISOString(),
    end: new Date(Math.min(toMs, fromMs + (i + 1) * sizeMs)).toISOString(),
    ...c,
    stepUpRate: c.total === 0 ? null : c.step_up / c.total,
    denyRate: c.total === 0 ? null : c.deny / c.total,
  }));
}

export type WindowQuery = { from?: string; to?: string; last?: string };

/** A time given as ISO 8601 or epoch milliseconds; NaN when it is neither. */
export function parseTime(value: string): number {
  if (/^\d{1,15}$/.test(value)) return Number(value);
  // Dates without a zone would be read in the server's zone: require one (or a bare date, which is UTC).
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(value)) return NaN;
  return Date.parse(value);
}

/** The window a query asks for: `from`/`to` (either may be left out), or `last`; the last 24 h by default. */
export function windowOf(query: WindowQuery, nowMs: number): { fromMs: number; toMs: number } | string {
  if (query.last !== undefined) {
    if (query.from !== undefined || query.to !== undefined) return 'last: not together with from or to';
    const span = LAST[query.last];
    if (span === undefined) return `last: one of ${Object.keys(LAST).join(', ')}`;
    return { fromMs: nowMs - span, toMs: nowMs };
  }
  const toMs = query.to === undefined || query.to === '' ? nowMs : parseTime(query.to);
  if (Number.isNaN(toMs)) return 'to: an ISO 8601 time with a zone, or epoch milliseconds';
  const fromMs =
    query.from === undefined || query.from === '' ? toMs - DEFAULT_WINDOW_MS : parseTime(query.from);
  if (Number.isNaN(fromMs)) return 'from: an ISO 8601 time with a zone, or epoch milliseconds';
  if (fromMs >= toMs) return 'from: must be before to';
  if (toMs - fromMs > MAX_WINDOW_MS) return `the window is at most ${MAX_WINDOW_MS / 86_400_000} days`;
  return { fromMs, toMs };
}
