// The console page: filters, per-route score histograms with the thresholds, the what-if panel (driven by
// console.js, which can save its thresholds as a new policy version), the policy versions (each one a
// rollback away), rates over time, top signals and the newest decisions with their reasons. Every URL is
// relative to the page (…/admin/console), so it works on the risk port and behind the gateway's
// /.stepgate/admin/ alike.
import type { VersionSummary } from '../policy/version-summary';
import { html, type SafeHtml } from './html';
import { LAST, type ConsoleData, type DecisionView, type RouteView } from './console.stats';
import { histogramSvg, pct, ratesSvg } from './console.svg';

const DECISION_NAMES: Record<string, string> = { allow: 'allowed', step_up: 'step-up', deny: 'denied' };

function layout(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${title} · StepGate</title>
        <link rel="stylesheet" href="console/console.css" />
        <script src="console/console.js" defer></script>
      </head>
      <body>
        <header class="banner">
          <p class="brand">StepGate <span>risk console</span></p>
        </header>
        <main id="main">${body}</main>
      </body>
    </html> `;
}

/** `console?…`: the page with other parameters, as a relative link. */
function pageLink(params: Record<string, string | null | undefined>, file = 'console'): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) search.set(k, v);
  const query = search.toString();
  return query ? `${file}?${query}` : file;
}

const rate = (part: number, total: number) => pct(total === 0 ? null : part / total);
const utc = (iso: string) => iso.slice(0, 19).replace('T', ' ');

function summary(data: ConsoleData): SafeHtml {
  const { decisions, total } = data;
  return html`<dl class="summary">
    <div>
      <dt>decisions</dt>
      <dd id="total">${total}</dd>
    </div>
    <div>
      <dt>allowed</dt>
      <dd>${decisions.allow}</dd>
    </div>
    <div>
      <dt>step-up</dt>
      <dd>${decisions.step_up} <small>${rate(decisions.step_up, total)}</small></dd>
    </div>
    <div>
      <dt>denied</dt>
      <dd>${decisions.deny} <small>${rate(decisions.deny, total)}</small></dd>
    </div>
    <div>
      <dt>policy</dt>
      <dd class="mono">
        ${data.versionInForce === null ? 'config file' : `version ${data.versionInForce}`}
        <small>${data.policyVersion}</small>
      </dd>
    </div>
  </dl>`;
}

function filters(data: ConsoleData): SafeHtml {
  const window = { from: data.window.from, to: data.window.to };
  return html`<form class="filters" method="get" action="console">
    <label>from <input name="from" type="text" value="${data.window.from}" size="26" /></label>
    <label>to <input name="to" type="text" value="${data.window.to}" size="26" /></label>
    <label
      >route
      <select name="route">
        <option value="">all routes</option>
        ${data.routesSeen.map(
          (r) => html`<option value="${r}" ${r === data.route ? 'selected' : ''}>${r}</option>`,
        )}
      </select>
    </label>
    <button type="submit">Show</button>
    <span class="quick"
      >last
      ${Object.keys(LAST).map((last) => html`<a href="${pageLink({ last, route: data.route })}">${last}</a> `)}</span
    >
    <a class="json" href="${pageLink({ ...window, route: data.route }, 'console/data.json')}">data.json</a>
  </form>`;
}

function routeSection(route: RouteView, data: ConsoleData): SafeHtml {
  const name = route.route ?? '(no route recorded)';
  const { decisions, total } = route;
  return html`<section class="route" data-route="${route.route ?? ''}">
    <h3>
      ${
        route.route === null || data.route !== null
          ? name
          : html`<a href="${pageLink({ from: data.window.from, to: data.window.to, route: route.route })}"
              >${name}</a
            >`
      }
      <small
        >${total} decisions · step-up ${rate(decisions.step_up, total)} · deny
        ${rate(decisions.deny, total)}</small
      >
    </h3>
    ${histogramSvg(route.histogram, data.thresholds, `Scores on ${name}, in bins of 5, with the thresholds`)}
  </section>`;
}

function signalsTable(data: ConsoleData): SafeHtml {
  if (data.topSignals.length === 0) return html`<p class="empty">No signal moved a score in this window.</p>`;
  return html`<table class="signals">
    <thead>
      <tr>
        <th scope="col">signal</th>
        <th scope="col" class="num">fired</th>
        <th scope="col" class="num">share</th>
        <th scope="col" class="num">points in all</th>
      </tr>
    </thead>
    <tbody>
      ${data.topSignals.map(
        (s) =>
          html`<tr>
            <td class="mono">${s.name}</td>
            <td class="num">${s.fired}</td>
            <td class="num">${rate(s.fired, data.total)}</td>
            <td class="num">${s.points}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function explanation(d: DecisionView): SafeHtml {
  const moved = d.signals
    .filter((s) => s.weight !== 0)
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  if (moved.length === 0) return html`<span class="empty">no signal moved the score</span>`;
  return html`<ul class="why">
    ${moved.map(
      (s) =>
        html`<li>
          <span class="mono">${s.name}</span>
          <b class="${s.weight > 0 ? 'up' : 'down'}"
            >${s.weight > 0 ? '+' : ''}${Math.round(s.weight * 10) / 10}</b
          >
          <span class="detail">${s.detail}</span>
        </li>`,
    )}
  </ul>`;
}

function recentTable(data: ConsoleData): SafeHtml {
  if (data.recent.length === 0) return html`<p class="empty">No decisions in this window.</p>`;
  return html`<table class="recent">
    <thead>
      <tr>
        <th scope="col">time (UTC)</th>
        <th scope="col">subject</th>
        <th scope="col">route</th>
        <th scope="col" class="num">score</th>
        <th scope="col">level</th>
        <th scope="col">decision</th>
        <th scope="col">why</th>
      </tr>
    </thead>
    <tbody>
      ${data.recent.map(
        (d) =>
          html`<tr>
            <td class="mono">${utc(d.time)}</td>
            <td>${d.subject}${d.deviceId ? html`<br /><small class="mono">${d.deviceId}</small>` : ''}</td>
            <td>${d.route ?? '–'}</td>
            <td class="num">${d.score}</td>
            <td><span class="level ${d.level}">${d.level}</span></td>
            <td>
              <span class="decision ${d.decision ?? 'none'}"
                >${DECISION_NAMES[d.decision ?? ''] ?? d.decision ?? '–'}</span
              >
            </td>
            <td>${explanation(d)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function whatIf(data: ConsoleData): SafeHtml {
  const t = data.thresholds;
  const slider = (level: 'medium' | 'high' | 'critical') =>
    html`<div class="slider">
      <label for="t-${level}"
        >${level} starts at <output id="o-${level}" for="t-${level}">${t[level]}</output></label
      >
      <input
        type="range"
        id="t-${level}"
        name="${level}"
        min="1"
        max="100"
        step="1"
        value="${t[level]}"
        data-level="${level}"
      />
    </div>`;
  return html`<section
    id="whatif"
    class="whatif"
    aria-labelledby="whatif-title"
    data-medium="${t.medium}"
    data-high="${t.high}"
    data-critical="${t.critical}"
    data-from="${data.window.from}"
    data-to="${data.window.to}"
    data-version="${data.versionInForce ?? ''}"
  >
    <h2 id="whatif-title">What if the thresholds moved?</h2>
    <p>
      Move a threshold: the lines on the histograms follow, and the backtest replays this window's access
      events with the candidate thresholds to show what would have changed. Nothing is saved until you save
      it.
    </p>
    <div class="sliders">${slider('medium')}${slider('high')}${slider('critical')}</div>
    <p><button type="button" id="whatif-reset">Back to the thresholds in force</button></p>
    <p id="whatif-status" class="status" role="status" aria-live="polite"></p>
    <div id="whatif-result" class="result" hidden></div>
    <h3>To apply them</h3>
    <p>
      Save them as a new policy version: every gateway and risk instance applies it without a restart, and the
      version before it stays listed below, to roll back to.
    </p>
    <div class="save">
      <label for="save-comment">Comment <small>(optional)</small></label>
      <input type="text" id="save-comment" maxlength="500" placeholder="why they move" />
      <button type="button" id="whatif-save" disabled>${saveLabel(data.versionInForce)}</button>
    </div>
    <p id="save-status" class="status" role="status" aria-live="polite"></p>
    <p>Or put this in the config file: risk records a valid change to it as a new version too.</p>
    <pre id="whatif-yaml">${yamlOf(t)}</pre>
  </section>`;
}

/** The save button's text; console.js rewrites it the same way after a save. */
export function saveLabel(versionInForce: number | null): string {
  return versionInForce === null
    ? 'Save as a new policy version'
    : `Save as policy version ${versionInForce + 1}`;
}

export function sourceOf(v: Pick<VersionSummary, 'source' | 'restores'>): string {
  switch (v.source) {
    case 'file':
      return 'config file';
    case 'api':
      return 'admin API';
    case 'rollback':
      return v.restores === null ? 'rollback' : `rollback, restores v${v.restores}`;
  }
}

function versionsTable(data: ConsoleData): SafeHtml {
  const head = data.versions[0];
  if (!head) return html`<p class="empty">No policy version is recorded yet.</p>`;
  // The head is what a rollback is checked against (If-Match): another change in between is a conflict.
  return html`<table class="versions" data-head="${head.version}">
    <thead>
      <tr>
        <th scope="col" class="num">version</th>
        <th scope="col">when (UTC)</th>
        <th scope="col">author</th>
        <th scope="col">source</th>
        <th scope="col">change</th>
        <th scope="col"></th>
      </tr>
    </thead>
    <tbody>
      ${data.versions.map(
        (v) =>
          html`<tr data-version="${v.version}">
            <td class="num">
              ${v.version}${v.version === data.versionInForce ? html` <span class="current">in force</span>` : ''}
            </td>
            <td class="mono">${utc(v.createdAt)}</td>
            <td>${v.author}</td>
            <td>${sourceOf(v)}</td>
            <td>${v.summary}${v.comment ? html`<br /><small class="comment">${v.comment}</small>` : ''}</td>
            <td>
              ${
                v === head
                  ? ''
                  : html`<button type="button" class="rollback" data-version="${v.version}">
                      Roll back to this
                    </button>`
              }
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function yamlOf(t: { medium: number; high: number; critical: number }): string {
  return `risk:\n  thresholds: { medium: ${t.medium}, high: ${t.high}, critical: ${t.critical} }\n`;
}

export function consolePage(data: ConsoleData): SafeHtml {
  const scope = data.route === null ? 'all routes' : `route ${data.route}`;
  return layout(
    'Risk console',
    html`<h1>Risk decisions</h1>
      <p class="lead">
        Access decisions from <time>${data.window.from}</time> to <time>${data.window.to}</time> on ${scope}.
        Thresholds in force: medium ${data.thresholds.medium}, high ${data.thresholds.high}, critical
        ${data.thresholds.critical}.
      </p>
      ${filters(data)} ${summary(data)}
      <div class="columns">
        <section class="histograms" aria-labelledby="histograms-title">
          <h2 id="histograms-title">Scores per route</h2>
          <p class="legend">
            <span class="key allow">allowed</span> <span class="key step_up">stepped up</span>
            <span class="key deny">denied</span> <span class="key other">no decision</span>
          </p>
          ${
            data.routes.length === 0
              ? html`<p class="empty">No access decisions in this window.</p>`
              : data.routes.map((r) => routeSection(r, data))
          }
        </section>
        ${whatIf(data)}
      </div>
      <section id="versions" aria-labelledby="versions-title">
        <h2 id="versions-title">Policy versions</h2>
        <p class="legend">
          The newest first. Rolling back records an old version's policy as a new version; nothing is deleted.
        </p>
        ${versionsTable(data)}
        <p id="versions-status" class="status" role="status" aria-live="polite"></p>
      </section>
      <section aria-labelledby="rates-title">
        <h2 id="rates-title">Step-up and deny rates over time</h2>
        <p class="legend">
          <span class="key step-up">step-up</span> <span class="key deny-line">deny</span>
          <small>buckets of ${bucketName(data.window.bucketSeconds)}</small>
        </p>
        ${ratesSvg(data.rates, `Step-up and deny rates per ${bucketName(data.window.bucketSeconds)}`)}
      </section>
      <section aria-labelledby="signals-title">
        <h2 id="signals-title">Top signals</h2>
        ${signalsTable(data)}
      </section>
      <section aria-labelledby="recent-title">
        <h2 id="recent-title">Recent decisions</h2>
        ${recentTable(data)}
      </section>`,
  );
}

export function errorPage(message: string): SafeHtml {
  return layout(
    'Risk console',
    html`<h1>Risk decisions</h1>
      <p class="error" role="alert">${message}</p>
      <p><a href="console">The last 24 hours</a></p>`,
  );
}

export function bucketName(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? 'a day' : `${seconds / 86_400} days`;
  if (seconds % 3_600 === 0) return seconds === 3_600 ? 'an hour' : `${seconds / 3_600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? 'a minute' : `${seconds / 60} minutes`;
  return `${seconds} s`;
}
