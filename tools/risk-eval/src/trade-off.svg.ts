// The trade-off curve as a hand-written SVG: for each attacker model, the share of its accesses stepped up
// (y) against the share of legitimate accesses of subjects with 10+ accesses of history stepped up (x), one
// point per threshold; the operating point is marked.
import type { CurvePoint } from './evaluation';

const W = 720;
const H = 480;
const M = { left: 70, right: 190, top: 40, bottom: 60 };
const SERIES = [
  { key: 'naive', label: 'naive', color: '#1b9e77' },
  { key: 'vpn', label: 'VPN', color: '#d95f02' },
  { key: 'targeted', label: 'targeted', color: '#7570b3' },
  { key: 'very_targeted', label: 'very targeted', color: '#e7298a' },
  { key: 'replay_foreign', label: 'id replay abroad', color: '#66a61e' },
] as const;

export function tradeOffSvg(curve: CurvePoint[], operating: CurvePoint, title: string): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  // The x axis (legit stepped up) is logarithmic from 0.1% to 100%: the interesting corner is the left one.
  // Shares below 0.1% (0 included) sit on the left edge.
  const x = (v: number) => M.left + ((Math.log10(Math.max(v, 0.001)) + 3) / 3) * pw;
  const y = (v: number) => M.top + (1 - v) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`,
  );
  for (let i = 0; i <= 10; i++) {
    const v = i / 10;
    out.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${Math.round(v * 100)}%</text>`,
    );
  }
  for (const xv of [0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1]) {
    out.push(
      `<line x1="${x(xv)}" x2="${x(xv)}" y1="${M.top}" y2="${M.top + ph}" stroke="${xv === 0.05 ? '#f99' : '#eee'}"/>`,
      `<text x="${x(xv)}" y="${M.top + ph + 18}" text-anchor="middle">${xv * 100 < 1 ? (xv * 100).toFixed(1) : xv * 100}%</text>`,
    );
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 16}" text-anchor="middle">legitimate accesses stepped up, subjects with 10+ accesses of history (log scale; red: 5%)</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">attacker accesses stepped up</text>`,
  );
  SERIES.forEach((s, i) => {
    const points = curve
      .filter((p) => p.caught[s.key] !== null && p.legit_stepped_up.history_10_plus !== null)
      .map((p) => `${x(p.legit_stepped_up.history_10_plus!).toFixed(1)},${y(p.caught[s.key]!).toFixed(1)}`);
    if (points.length > 0) {
      out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
    const op = operating.caught[s.key];
    const ox = operating.legit_stepped_up.history_10_plus;
    if (op !== null && ox !== null) {
      out.push(`<circle cx="${x(ox)}" cy="${y(op)}" r="5" fill="${s.color}" stroke="black"/>`);
    }
    const ly = M.top + 20 + i * 22;
    out.push(
      `<line x1="${M.left + pw + 15}" x2="${M.left + pw + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${M.left + pw + 46}" y="${ly + 4}">${s.label}</text>`,
    );
  });
  const ly = M.top + 20 + SERIES.length * 22 + 10;
  out.push(
    `<circle cx="${M.left + pw + 27}" cy="${ly}" r="5" fill="white" stroke="black"/>`,
    `<text x="${M.left + pw + 46}" y="${ly + 4}">threshold ${operating.threshold}</text>`,
    `<text x="${M.left + pw + 46}" y="${ly + 20}">(configured medium)</text>`,
    `<text x="${M.left + pw + 15}" y="${ly + 44}">one point per threshold</text>`,
    `<text x="${M.left + pw + 15}" y="${ly + 60}">0..100</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
