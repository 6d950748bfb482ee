// The risk console's what-if panel and policy versions. Served as a static file so the Content-Security-Policy
// can forbid inline script. Moving a threshold slider moves its line on every histogram at once and, debounced,
// asks the backtest (POST <admin>/policy/simulate) what the candidate thresholds would have decided in this
// window; Save makes them a new policy version (PUT <admin>/policy, If-Match the version the page shows). Each
// older version can be rolled back to (POST <admin>/policy/rollback, If-Match the newest).
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
  const policyUrl = `${adminBase}policy`;

  let inForce = Object.fromEntries(LEVELS.map((l) => [l, Number(panel.dataset[l])]));
  /** The stored version the page's thresholds belong to; null while risk still runs on the file's. */
  let version = panel.dataset.version ? Number(panel.dataset.version) : null;
  const window_ = { from: panel.dataset.from, to: panel.dataset.to };
  const sliders = Object.fromEntries(LEVELS.map((l) => [l, document.getElementById(`t-${l}`)]));
  const outputs = Object.fromEntries(LEVELS.map((l) => [l, document.getElementById(`o-${l}`)]));
  const status = document.getElementById('whatif-status');
  const result = document.getElementById('whatif-result');
  const yaml = document.getElementById('whatif-yaml');
  const reset = document.getElementById('whatif-reset');
  const save = document.getElementById('whatif-save');
  const comment = document.getElementById('save-comment');
  const saveStatus = document.getElementById('save-status');

  let timer = null;
  let inFlight = null;
  let sequence = 0;
  let saving = false;

  function candidate() {
    return Object.fromEntries(LEVELS.map((l) => [l, Number(sliders[l].value)]));
  }

  const same = (t) => LEVELS.every((l) => t[l] === inForce[l]);

  function say(message, kind) {
    status.textContent = message;
    status.className = `status ${kind ?? ''}`;
  }

  const ordered = (t) => t.medium < t.high && t.high < t.critical;

  function updateSave() {
    const t = candidate();
    save.disabled = saving || same(t) || !ordered(t);
    save.textContent =
      version === null ? 'Save as a new policy version' : `Save as policy version ${version + 1}`;
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
    updateSave();
    clearTimeout(timer);
    if (!ordered(t)) {
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
    say(`Replayed ${count(body.events?.considered)} access events with the candidate thresholds.`, 'ok');
  }

  // --- saving the candidate as a policy version ---

  /**
   * Reads the policy (its document and ETag), puts the candidate thresholds in, and writes it back with
   * If-Match. The page's version is the base: a change made since the page was drawn is a conflict to
   * reload for, never something to overwrite.
   */
  async function saveCandidate() {
    const t = candidate();
    saving = true;
    updateSave();
    tell(saveStatus, 'Saving…', 'busy');
    try {
      const read = await send('GET', policyUrl);
      if (!read.res.ok || !isVersion(read.body)) return failed(saveStatus, read, 'Reading the policy');
      const etag = read.res.headers.get('etag') ?? `"${read.body.version}"`;
      // A page drawn before risk applied any published version shows the file's thresholds, which may not be
      // the newest version's: a conflict too, never a blind overwrite.
      if (read.body.version !== version) return conflict(saveStatus, read.body.version);
      const { document } = read.body;
      const note = comment.value.trim();
      const written = await send('PUT', policyUrl, {
        ifMatch: etag,
        json: {
          document: { ...document, risk: { ...document.risk, thresholds: t } },
          ...(note && { comment: note }),
        },
      });
      if (!written.res.ok || !isVersion(written.body)) return failed(saveStatus, written, 'Saving');
      version = written.body.version;
      inForce = t;
      comment.value = '';
      render(t);
      tell(saveStatus, `Saved as version ${version}. Reload to see it in the policy versions.`, 'ok');
    } catch {
      tell(saveStatus, 'The risk service could not be reached: nothing was saved.', 'error');
    } finally {
      saving = false;
      updateSave();
    }
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

  // --- the policy versions: roll back to one ---

  async function rollBack(button) {
    const to = Number(button.dataset.version);
    const table = button.closest('table');
    const out = document.getElementById('versions-status');
    if (!window.confirm(`Roll back to version ${to}? Its policy becomes a new version, in force everywhere.`))
      return;
    const buttons = table.querySelectorAll('button.rollback');
    for (const b of buttons) b.disabled = true;
    tell(out, `Rolling back to version ${to}…`, 'busy');
    try {
      const done = await send('POST', `${policyUrl}/rollback`, {
        ifMatch: `"${table.dataset.head}"`,
        json: { to },
      });
      if (done.res.ok && isVersion(done.body)) {
        tell(out, `Version ${done.body.version} restores version ${to}. Reloading…`, 'ok');
        window.location.reload();
        return;
      }
      failed(out, done, 'The rollback');
    } catch {
      tell(out, 'The risk service could not be reached: nothing was rolled back.', 'error');
    }
    for (const b of buttons) b.disabled = false;
  }

  // --- talking to the policy API ---

  async function send(method, url, { ifMatch, json } = {}) {
    const headers = { accept: 'application/json' };
    if (ifMatch) headers['if-match'] = ifMatch;
    if (json) headers['content-type'] = 'application/json';
    const res = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      body: json ? JSON.stringify(json) : undefined,
    });
    return { res, body: await res.json().catch(() => null) };
  }

  const isVersion = (body) => Boolean(body && typeof body.version === 'number' && body.document);

  function tell(target, message, kind, details = []) {
    target.className = `status ${kind ?? ''}`;
    target.replaceChildren(
      message,
      ...(details.length
        ? [el('ul', { class: 'problems' }, ...details.map((d) => el('li', {}, String(d))))]
        : []),
    );
  }

  function conflict(target, head) {
    tell(target, `Someone changed the policy (now version ${head ?? '?'}): reload to see it.`, 'error');
  }

  /** Says why a policy request failed, in the words the API gave. */
  function failed(target, { res, body }, what) {
    const message = body && typeof body.message === 'string' ? body.message : '';
    if (res.status === 412) return conflict(target, body?.version);
    if (res.status === 400 && Array.isArray(body?.problems))
      return tell(target, `${what} was refused:`, 'error', body.problems);
    if (res.status === 401 || res.status === 403)
      return tell(target, message || `${what} was refused (${res.status}).`, 'error');
    if (res.ok) return tell(target, `${what} gave an answer that is not a policy version.`, 'error');
    tell(target, `${what} failed (${res.status})${message ? `: ${message}` : ''}.`, 'error');
  }

  for (const l of LEVELS) sliders[l].addEventListener('input', onInput);
  reset.addEventListener('click', () => {
    for (const l of LEVELS) sliders[l].value = String(inForce[l]);
    onInput();
  });
  updateSave();
  save.addEventListener('click', () => void saveCandidate());
  for (const button of document.querySelectorAll('#versions button.rollback'))
    button.addEventListener('click', () => void rollBack(button));
})();
