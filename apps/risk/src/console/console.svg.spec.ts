import { describe, expect, it } from 'vitest';
import { histogram, rateSeries } from './console.stats';
import { histogramSvg, niceCeiling, ratePath, ratesSvg, scoreX } from './console.svg';

const THRESHOLDS = { medium: 30, high: 60, critical: 85 };
/** The markup with the formatter's line breaks folded, as a browser parses it. */
const flat = (markup: string) => markup.replace(/\s+/g, ' ').replace(/ >/g, '>');

describe(histogramSvg.name, () => {
  const bins = histogram([
    { score: 10, decision: 'allow', count: 8 },
    { score: 45, decision: 'step_up', count: 4 },
    { score: 47, decision: 'allow', count: 1 },
    { score: 90, decision: 'deny', count: 2 },
  ]);

  it('draws one group per non-empty bin, stacked by decision, scaled to a round maximum', () => {
    const svg = flat(histogramSvg(bins, THRESHOLDS, 'scores').value);
    expect(svg.match(/<g class="bin"/g)).toHaveLength(3);
    expect(svg.match(/<rect class="bar /g)).toHaveLength(4);
    expect(svg).toContain('score 45-49: 5 (1 allowed, 4 stepped up)');
    expect(svg).toMatch(/>10<\/text>/); // 8 rounds up to 10
    expect(svg).not.toMatch(/style=/);
  });

  it('draws the three thresholds as labelled lines where the script expects them', () => {
    const svg = flat(histogramSvg(bins, THRESHOLDS, 'scores').value);
    for (const [level, score] of Object.entries(THRESHOLDS)) {
      expect(svg).toContain(`<g class="threshold ${level}" data-level="${level}">`);
      expect(svg).toContain(`x1="${scoreX(score)}" x2="${scoreX(score)}"`);
      expect(svg).toContain(`>${level} ${score}</text>`);
    }
    expect(svg).toMatch(/data-x0="40" data-plot-width="588"/);
    const edge = flat(histogramSvg(bins, { ...THRESHOLDS, critical: 95 }, 'scores').value);
    expect(edge).toContain(`<text x="${scoreX(95) - 3}" y="14" text-anchor="end">critical 95</text>`);
    expect(scoreX(0)).toBe(40);
    expect(scoreX(100)).toBe(628);
  });

  it('escapes text: a route name cannot inject markup', () => {
    const svg = flat(histogramSvg(bins, THRESHOLDS, '<script>alert(1)</script>" onload="x').value);
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('" onload="x');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;x');
  });
});

describe(ratesSvg.name, () => {
  it('draws both rates, broken where a bucket had no traffic, with dots only where there was some', () => {
    const from = Date.parse('2025-01-01T00:00:00Z');
    const buckets = rateSeries(
      [
        { bucket: 0, decision: 'step_up', count: 1 },
        { bucket: 0, decision: 'allow', count: 3 },
        { bucket: 1, decision: 'deny', count: 1 },
        { bucket: 1, decision: 'allow', count: 1 },
        { bucket: 3, decision: 'allow', count: 4 },
      ],
      from,
      from + 4 * 3_600_000,
      3_600_000,
    );
    const svg = flat(ratesSvg(buckets, 'rates <per hour>').value);
    expect(svg.match(/<g class="bucket">/g)).toHaveLength(3);
    expect(svg).toMatch(/<path class="line step-up" d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+ M[\d.]+,[\d.]+"/);
    expect(svg).toContain('>50%</text>'); // the peak rate, 50 %, sets the axis
    expect(svg).toContain('aria-label="rates &lt;per hour&gt;"');
  });
});

describe(ratePath.name, () => {
  it('starts a new subpath after a gap', () => {
    expect(ratePath([{ x: 1, y: 2 }, { x: 3, y: 4 }, null, { x: 5, y: 6 }])).toBe('M1,2 L3,4 M5,6');
    expect(ratePath([null, null])).toBe('');
  });
});

describe(niceCeiling.name, () => {
  it('rounds up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 3, 8, 10, 11, 26, 140, 999].map(niceCeiling)).toEqual([1, 1, 5, 10, 10, 20, 50, 200, 1000]);
  });
});
