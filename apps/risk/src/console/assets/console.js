// The risk console's what-if panel. Served as a static file so the Content-Security-Policy can forbid inline
// script. Moving a threshold slider moves its line on every histogram at once and, debounced, asks the
// backtest (POST <admin>/policy/simulate) what the candidate thresholds would have decided in this window.
// Everything shown comes from JSON and is written with textContent, never as markup.
(() => {
  'use strict';

  const LEVELS = ['medium', 'high', 'critical'];
  const DEBOUNCE_MS = 350;
  const panel = document.getElementById('whatif');
  if (!panel) return;

  // …/admin/console → …/admin/: the same page is served on the risk port and under /.stepgate/ by the gateway.
  const adminBase = window.location.pathname.replace(/console\/?$/, '');
  const simulateUrl = `${adminBase}policy/simulate`;

  const inForce = Object.fromEntries(LEVELS.map((l) => [l, Number(panel.dataset[l])]));
  const window_ = { from: panel.dataset.from, to: panel.dataset.to };
  const sliders = Object.fromEntries(LEVELS.map((l) => [l, document.getElementById(`t-${l}`)]));
  const outputs = Object.fromEntries(LEVELS.map((l) => [l, document.getElementById(`o-${l}`)]));
  const status = document.getElementById('whatif-status');
  const result = document.getElementById('whatif-result');
  const yaml = document.getElementById('whatif-yaml');
  const reset = document.getElementById('whatif-reset');

  let timer = null;
  let inFlight = null;
  let sequence = 0;

  function candidate() {
    return Object.fromEntries(LEVELS.map((l) => [l, Number(sliders[l].value)]));
  }

  const same = (t) => LEVELS.every((l) => t[l] === inForce[l]);

  function say(message, kind) {
    status.textContent = message;
    status.className = `status ${kind ?? ''}`;
  }

  /** Moves each level's line (and its label) on every histogram: x = x0 + score / 100 * plot width. */
  function drawThresholds(t) {
    for (const svg of document.querySelectorAll('svg.histogram')) {
      const x0 = Number(svg.dataset.x0);
      const width = Number(svg.dataset.plotWidth);
      for (const level of LEVELS) {
        const g = svg.querySelector(`g.threshold[data-level="${level}"]`);
        if (!g) continue;
        const x = Math.round((x0 + (t[level] / 100) * width) * 10) / 10;
        const line = g.querySelector('line');
        const label = g.querySelector('text');
        line.setAttribute('x1', String(x));
        line.setAttribute('x2', String(x));
        // Near the right edge the label goes left of its line (as the server draws it).
        const flip = t[level] >= 88;
        label.setAttribute('x', String(flip ? x - 3 : x + 3));
        label.setAttribute('text-anchor', flip ? 'end' : 'start');
        label.textContent = `${level} ${t[level]}`;
        g.classList.toggle('moved', t[level] !== inForce[level]);
      }
    }
  }

  function render(t) {
    for (const l of LEVELS) outputs[l].textContent = String(t[l]);
    drawThresholds(t);
    yaml.textContent = `risk:\n  thresholds: { medium: ${t.medium}, high: ${t.high}, critical: ${t.critical} }\n`;
  }

  function onInput() {
    const t = candidate();
    render(t);
    clearTimeout(timer);
    if (!(t.medium < t.high && t.high < t.critical)) {
      result.hidden = true;
      say('The thresholds must increase: medium < high < critical.', 'error');
      return;
    }
    if (same(t)) {
      result.hidden = true;
      say('These are the thresholds in force.');
      return;
    }
    say('Waiting to replay…');
    timer = setTimeout(() => void simulate(t), DEBOUNCE_MS);
  }

  async function simulate(t) {
    const mine = ++sequence;
    inFlight?.abort();
    inFlight = new AbortController();
    say('Replaying the window with the candidate thresholds…', 'busy');
    let res;
    let body = null;
    try {
      res = await fetch(simulateUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify({ candidate: { risk: { thresholds: t } }, from: window_.from, to: window_.to }),
        signal: inFlight.signal,
      });
      body = await res.json().catch(() => null);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (mine !== sequence) return;
      result.hidden = true;
      say('The backtest could not be reached. The lines show the candidate; its effect is unknown.', 'error');
      return;
    }
    if (mine !== sequence) return;
    if (res.status === 404 || res.status === 405) {
      result.hidden = true;
      say(
        'The backtest is not available on this risk service (POST policy/simulate answered ' +
          `${res.status}). The lines show the candidate thresholds; their effect cannot be replayed here.`,
        'error',
      );
      return;
    }
    if (!res.ok || !body || typeof body !== 'object') {
      result.hidden = true;
      const reason = body && typeof body.message === 'string' ? `: ${body.message}` : '';
      say(`The backtest failed (${res.status})${reason}.`, 'error');
      return;
    }
    showResult(body);
    say(
      `Replayed ${count(body.events?.considered)} access events with the candidate thresholds. Nothing is saved.`,
      'ok',
    );
  }

  // --- rendering the backtest's answer (its shape may grow: read only what is there) ---

  function count(n) {
    return typeof n === 'number' && Number.isFinite(n) ? n : 0;
  }

  function rates(side) {
    if (!side || typeof side !== 'object') return { stepUp: null, deny: null };
    const allow = count(side.allow);
    const stepUp = count(side.step_up ?? side.stepUp);
    const deny = count(side.deny);
    const total = allow + stepUp + deny;
    const given = side.rates && typeof side.rates === 'object' ? side.rates : {};
    const pick = (...values) => values.find((v) => typeof v === 'number' && Number.isFinite(v));
    return {
      stepUp: pick(given.step_up, given.stepUp) ?? (total ? stepUp / total : null),
      deny: pick(given.deny) ?? (total ? deny / total : null),
    };
  }

  function pct(rate) {
    return rate === null || rate === undefined
      ? '–'
      : `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) node.setAttribute(k, v);
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
    return node;
  }

  function table(caption, head, rows) {
    return el(
      'table',
      {},
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))),
    );
  }

  function label(item) {
    if (typeof item === 'string') return item;
    if (item && typeof item === 'object') return String(item.subject ?? item.id ?? JSON.stringify(item));
    return String(item);
  }

  function group(title, g) {
    const n = count(g?.count);
    const sample = Array.isArray(g?.sample) ? g.sample.slice(0, 8).map(label) : [];
    return el(
      'div',
      { class: 'group' },
      el('h4', {}, `${title}: `, el('b', {}, n)),
      sample.length ? el('p', { class: 'sample' }, sample.join(', '), n > sample.length ? ', …' : '') : '',
    );
  }

  function decision(d) {
    if (!d || typeof d !== 'object') return '–';
    return `${d.decision ?? '?'} (${d.level ?? '?'}, ${d.score ?? '?'})`;
  }

  function showResult(body) {
    const now = rates(body.inForce);
    const then = rates(body.candidate);
    const parts = [
      table(
        'Overall',
        ['', 'in force', 'candidate'],
        [
          ['step-up rate', pct(now.stepUp), pct(then.stepUp)],
          ['deny rate', pct(now.deny), pct(then.deny)],
        ],
      ),
    ];
    const byRoute = body.routes && typeof body.routes === 'object' ? Object.entries(body.routes) : [];
    if (byRoute.length) {
      parts.push(
        table(
          'Per route',
          ['route', 'step-up now → then', 'deny now → then'],
          byRoute.slice(0, 20).map(([route, r]) => {
            const a = rates(r?.inForce);
            const b = rates(r?.candidate);
            return [route, `${pct(a.stepUp)} → ${pct(b.stepUp)}`, `${pct(a.deny)} → ${pct(b.deny)}`];
          }),
        ),
      );
    }
    parts.push(
      el(
        'div',
        { class: 'groups' },
        group('Subjects newly challenged', body.subjects?.newlyChallenged),
        group('Subjects released', body.subjects?.released),
      ),
    );
    const changed = Array.isArray(body.sample) ? body.sample.slice(0, 10) : [];
    if (changed.length) {
      parts.push(
        table(
          'Decisions that would change',
          ['time', 'subject', 'route', 'in force', 'candidate'],
          changed.map((c) => [
            typeof c.time === 'string' ? c.time.slice(0, 19).replace('T', ' ') : '–',
            label(c.subject),
            c.route ?? '–',
            decision(c.inForce),
            decision(c.candidate),
          ]),
        ),
      );
    } else {
      parts.push(el('p', { class: 'empty' }, 'No decision in this window would change.'));
    }
    const warnings = Array.isArray(body.warnings) ? body.warnings : [];
    if (warnings.length) {
      parts.push(
        el('ul', { class: 'warnings' }, ...warnings.slice(0, 10).map((w) => el('li', {}, label(w)))),
      );
    }
    result.replaceChildren(...parts);
    result.hidden = false;
  }

  for (const l of LEVELS) sliders[l].addEventListener('input', onInput);
  reset.addEventListener('click', () => {
    for (const l of LEVELS) sliders[l].value = String(inForce[l]);
    onInput();
  });
})();
