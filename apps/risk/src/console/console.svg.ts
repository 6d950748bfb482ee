// The console's charts as inline SVG, drawn on the server: a score histogram with the thresholds on it, and
// step-up and deny rates over time. Geometry only in attributes (the CSP forbids inline style); every text
// goes through the escaping template. The script reads data-x0/data-plot-width to move threshold lines.
import { html, type SafeHtml } from './html';
import { BIN_WIDTH, type Bin, type RateBucket, type Thresholds } from './console.stats';

export const HISTOGRAM = { width: 640, height: 200, left: 40, right: 12, top: 22, bottom: 30 };
export const RATES = { width: 640, height: 200, left: 44, right: 12, top: 14, bottom: 34 };

const LEVELS = ['medium', 'high', 'critical'] as const;
/** The score from which a threshold's label sits left of its line. */
const LABEL_FLIP = 88;
/** Bar segments bottom to top, with the class that colours them (console.css). */
const STACK = [
  ['allow', 'allowed'],
  ['step_up', 'stepped up'],
  ['deny', 'denied'],
  ['other', 'no decision'],
] as const;

const r1 = (n: number) => Math.round(n * 10) / 10;

/** x of a score on the histogram's axis. */
export function scoreX(score: number): number {
  const plot = HISTOGRAM.width - HISTOGRAM.left - HISTOGRAM.right;
  return r1(HISTOGRAM.left + (Math.min(100, Math.max(0, score)) / 100) * plot);
}

/** A round axis maximum at or above `max`: 1, 2, 5, 10, 20, 50, ... */
export function niceCeiling(max: number): number {
  if (max <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}

export function histogramSvg(bins: readonly Bin[], thresholds: Thresholds, label: string): SafeHtml {
  const { width, height, left, right, top, bottom } = HISTOGRAM;
  const plotHeight = height - top - bottom;
  const yMax = niceCeiling(Math.max(0, ...bins.map((b) => b.total)));
  const y = (count: number) => r1(top + plotHeight - (count / yMax) * plotHeight);
  const bars = bins.map((bin) => {
    if (bin.total === 0) return '';
    const x = scoreX(bin.from) + 1;
    const w = r1(scoreX(bin.from + BIN_WIDTH) - scoreX(bin.from) - 2);
    let below = 0;
    const segments = STACK.map(([key, name]) => {
      const count = bin[key];
      if (count === 0) return '';
      const segment = html`<rect
        class="bar ${key}"
        x="${x}"
        y="${y(below + count)}"
        width="${w}"
        height="${r1(y(below) - y(below + count))}"
        ><title>${count} ${name}</title></rect
      >`;
      below += count;
      return segment;
    });
    const summary = STACK.filter(([key]) => bin[key] > 0).map(([key, name]) => `${bin[key]} ${name}`);
    return html`<g class="bin" data-from="${bin.from}" data-total="${bin.total}">
      <title>score ${bin.from}-${bin.to}: ${bin.total} (${summary.join(', ')})</title>${segments}</g
    >`;
  });
  const ticks = [0, 25, 50, 75, 100].map(
    (s) =>
      html`<line
          class="tick"
          x1="${scoreX(s)}"
          x2="${scoreX(s)}"
          y1="${top + plotHeight}"
          y2="${top + plotHeight + 4}"
        /><text class="axis" x="${scoreX(s)}" y="${height - 12}" text-anchor="middle">${s}</text>`,
  );
  const lines = LEVELS.map((level) => {
    const x = scoreX(thresholds[level]);
    // Near the right edge the label goes left of its line, or it would be cut off (console.js does the same).
    const [dx, anchor] = thresholds[level] >= LABEL_FLIP ? [-3, 'end'] : [3, 'start'];
    return html`<g class="threshold ${level}" data-level="${level}">
      <line x1="${x}" x2="${x}" y1="${top - 4}" y2="${top + plotHeight}" />
      <text x="${x + dx}" y="${top - 8}" text-anchor="${anchor}">${level} ${thresholds[level]}</text></g
    >`;
  });
  return html`<svg
    class="chart histogram"
    viewBox="0 0 ${width} ${height}"
    role="img"
    aria-label="${label}"
    data-x0="${left}"
    data-plot-width="${width - left - right}"
  >
    <title>${label}</title>
    ${valueAxis(HISTOGRAM, String(yMax), '0')} ${ticks}${bars}${lines}
    <text class="axis" x="${width - right}" y="${height - 1}" text-anchor="end">score</text>
  </svg>`;
}

/** A chart's vertical scale: its top and zero labels, and the baseline under the plot. */
function valueAxis(box: typeof HISTOGRAM, topLabel: string, zeroLabel: string): SafeHtml {
  const { width, height, left, right, top, bottom } = box;
  const baseline = height - bottom;
  return html`<text class="axis" x="${left - 6}" y="${top + 4}" text-anchor="end">${topLabel}</text>
    <text class="axis" x="${left - 6}" y="${baseline}" text-anchor="end">${zeroLabel}</text>
    <line class="baseline" x1="${left}" x2="${width - right}" y1="${baseline}" y2="${baseline}" />`;
}

/** The path through a series, broken (a new M) where a bucket had no traffic. */
export function ratePath(points: readonly ({ x: number; y: number } | null)[]): string {
  const parts: string[] = [];
  let pen = false;
  for (const p of points) {
    if (p === null) {
      pen = false;
      continue;
    }
    parts.push(`${pen ? 'L' : 'M'}${p.x},${p.y}`);
    pen = true;
  }
  return parts.join(' ');
}

const hhmm = (iso: string, spanMs: number) =>
  spanMs > 2 * 86_400_000 ? iso.slice(5, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;

export function ratesSvg(buckets: readonly RateBucket[], label: string): SafeHtml {
  const { width, height, left, right, top, bottom } = RATES;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const peak = Math.max(0, ...buckets.map((b) => Math.max(b.stepUpRate ?? 0, b.denyRate ?? 0)));
  // Percent axis: 10, 20, 50 or 100 %, so a low deny rate is still visible.
  const yMax = [0.1, 0.2, 0.5, 1].find((m) => m >= peak) ?? 1;
  const step = buckets.length > 1 ? plotWidth / (buckets.length - 1) : 0;
  const x = (i: number) => r1(left + (buckets.length > 1 ? i * step : plotWidth / 2));
  const y = (rate: number) => r1(top + plotHeight - (rate / yMax) * plotHeight);
  const series = (rate: (b: RateBucket) => number | null) =>
    ratePath(buckets.map((b, i) => (rate(b) === null ? null : { x: x(i), y: y(rate(b)!) })));
  const dots = buckets.map((b, i) =>
    b.total === 0
      ? ''
      : html`<g class="bucket"
          ><title>
            ${b.start.slice(0, 16)}Z: ${b.total} decisions, step-up ${pct(b.stepUpRate)}, deny
            ${pct(b.denyRate)}
          </title>
          <circle class="dot step-up" cx="${x(i)}" cy="${y(b.stepUpRate ?? 0)}" r="2.5" />
          <circle class="dot deny" cx="${x(i)}" cy="${y(b.denyRate ?? 0)}" r="2.5"
        /></g>`,
  );
  const first = buckets[0];
  const last = buckets[buckets.length - 1];
  const span = first && last ? Date.parse(last.end) - Date.parse(first.start) : 0;
  return html`<svg class="chart rates" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">
    <title>${label}</title>
    ${valueAxis(RATES, `${Math.round(yMax * 100)}%`, '0%')}
    <path class="line step-up" d="${series((b) => b.stepUpRate)}" />
    <path class="line deny" d="${series((b) => b.denyRate)}" />
    ${dots}
    ${first ? html`<text class="axis" x="${left}" y="${height - 16}">${hhmm(first.start, span)}</text>` : ''}
    ${
      last
        ? html`<text class="axis" x="${width - right}" y="${height - 16}" text-anchor="end"
            >${hhmm(last.end, span)}</text
          >`
        : ''
    }
    <text class="axis" x="${left + plotWidth / 2}" y="${height - 2}" text-anchor="middle">time (UTC)</text>
  </svg>`;
}

export const pct = (rate: number | null | undefined): string =>
  rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
