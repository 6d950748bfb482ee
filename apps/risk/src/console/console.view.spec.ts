import { describe, expect, it } from 'vitest';
import type { VersionSummary } from '../policy/version-summary';
import { consoleQuery } from './console.http.controller';
import { histogram, noDecisions, rateSeries, type ConsoleData } from './console.stats';
import { bucketName, consolePage, errorPage, saveLabel, sourceOf, yamlOf } from './console.view';
import { CONTENT_SECURITY_POLICY } from './html';

const EVIL = `"><script>alert('x')</script>`;

function data(over: Partial<ConsoleData> = {}): ConsoleData {
  const from = Date.parse('2025-06-01T00:00:00Z');
  return {
    window: { from: '2025-06-01T00:00:00.000Z', to: '2025-06-02T00:00:00.000Z', bucketSeconds: 3600 },
    route: null,
    policyVersion: 'lr-1/cfg-abc',
    versionInForce: 3,
    thresholds: { medium: 30, high: 60, critical: 85 },
    routesSeen: ['payments', EVIL],
    total: 3,
    decisions: { ...noDecisions(), allow: 2, step_up: 1 },
    routes: [
      {
        route: EVIL,
        total: 3,
        decisions: { ...noDecisions(), allow: 2, step_up: 1 },
        histogram: histogram([{ score: 40, decision: 'step_up', count: 1 }]),
      },
    ],
    rates: rateSeries([], from, from + 86_400_000, 3_600_000),
    topSignals: [{ name: EVIL, fired: 2, points: 100 }],
    recent: [
      {
        time: '2025-06-01T10:00:00.000Z',
        subject: EVIL,
        deviceId: EVIL,
        route: EVIL,
        score: 50,
        level: 'medium',
        decision: 'step_up',
        modelVersion: 'lr-1/cfg-abc',
        signals: [
          { name: 'new_device', weight: 50, detail: EVIL },
          { name: 'model_country', weight: 0, detail: 'context only' },
        ],
      },
    ],
    versions: [
      version(3, { source: 'rollback', restores: 1, author: EVIL, comment: EVIL, summary: EVIL }),
      version(2, { source: 'api', author: 'admin', summary: 'risk.thresholds.medium 30 → 40' }),
      version(1, { source: 'file', author: 'file:stepgate.yaml', summary: 'first version' }),
    ],
    ...over,
  };
}

function version(n: number, over: Partial<VersionSummary> = {}): VersionSummary {
  return {
    version: n,
    hash: 'a'.repeat(64),
    author: 'admin',
    source: 'api',
    restores: null,
    comment: null,
    createdAt: `2025-06-0${n}T08:00:00.000Z`,
    summary: 'no changes',
    changeCount: 0,
    ...over,
  };
}

describe(consolePage.name, () => {
  it('escapes everything that came from events, and has no inline script or style', () => {
    const page = consolePage(data()).value;
    expect(page).not.toContain("<script>alert('x')");
    expect(page).toContain('&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;');
    expect(page.match(/<script[^>]*>/g)).toEqual(['<script src="console/console.js" defer>']);
    expect(page).not.toMatch(/\sstyle=|<style|\son[a-z]+=/);
  });

  it('links only relatively, so it works under the gateway prefix too', () => {
    const page = consolePage(data()).value;
    const urls = [...page.matchAll(/(?:href|src|action)="([^"]*)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) expect(url).toMatch(/^console([/?]|$)/);
  });

  it('explains decisions with the signals that moved the score, and carries the thresholds for the script', () => {
    const page = consolePage(data()).value;
    expect(page).toContain('<span class="mono">new_device</span>');
    expect(page).not.toContain('model_country');
    expect(page).toMatch(/id="whatif"[\s\S]*data-medium="30"[\s\S]*data-critical="85"/);
    expect(page).toContain('risk:\n  thresholds: { medium: 30, high: 60, critical: 85 }');
  });

  it('offers to save the candidate as the next version, disabled until a threshold moves', () => {
    const page = consolePage(data()).value;
    expect(page).toMatch(/id="whatif"[\s\S]*data-version="3"/);
    expect(page).toMatch(/<button type="button" id="whatif-save" disabled>\s*Save as policy version 4\s*</);
    expect(page).toContain('<input type="text" id="save-comment" maxlength="500"');
    expect(consolePage(data({ versionInForce: null })).value).toMatch(/data-version=""/);
  });

  it('lists the policy versions newest first, escaped, with a rollback button on every row but the head', () => {
    const page = consolePage(data()).value;
    const table = /<table class="versions" data-head="3">[\s\S]*?<\/table>/.exec(page)?.[0] ?? '';
    const rows = table.match(/<tr data-version="\d+">[\s\S]*?<\/tr>/g) ?? [];
    expect(rows.map((r) => /data-version="(\d+)"/.exec(r)![1])).toEqual(['3', '2', '1']);
    expect(rows[0]).toContain('rollback, restores v1');
    expect(rows[0]).toContain('<span class="current">in force</span>');
    expect(rows[0]).not.toContain('<button');
    expect(rows[0]).not.toContain('<script>alert');
    expect(rows[0]).toContain('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;');
    expect(rows[1]).toMatch(/2025-06-02 08:00:00[\s\S]*admin[\s\S]*admin API[\s\S]*medium 30 → 40/);
    expect(rows[1]).toMatch(/<button type="button" class="rollback" data-version="2">\s*Roll back to this/);
    expect(rows[2]).toMatch(/file:stepgate\.yaml[\s\S]*config file[\s\S]*first version/);
    expect(rows[2]).toContain('data-version="1"');
    expect(page).toContain('id="versions-status"');
  });

  it('says when the window is empty', () => {
    const page = consolePage(data({ routes: [], recent: [], topSignals: [], total: 0 })).value;
    expect(page).toContain('No access decisions in this window.');
    expect(page).toContain('No decisions in this window.');
    expect(consolePage(data({ versions: [] })).value).toContain('No policy version is recorded yet.');
  });
});

describe(errorPage.name, () => {
  it('escapes the message', () => {
    expect(errorPage(EVIL).value).not.toContain('<script>alert');
  });
});

describe(saveLabel.name, () => {
  it('names the version a save would make', () => {
    expect(saveLabel(1)).toBe('Save as policy version 2');
    expect(saveLabel(null)).toBe('Save as a new policy version');
  });
});

describe(sourceOf.name, () => {
  it('names where a version came from, and what a rollback restores', () => {
    expect(sourceOf({ source: 'file', restores: null })).toBe('config file');
    expect(sourceOf({ source: 'api', restores: null })).toBe('admin API');
    expect(sourceOf({ source: 'rollback', restores: 4 })).toBe('rollback, restores v4');
  });
});

describe('console helpers', () => {
  it('writes the YAML to apply, names bucket sizes, and has a strict CSP', () => {
    expect(yamlOf({ medium: 25, high: 55, critical: 80 })).toBe(
      'risk:\n  thresholds: { medium: 25, high: 55, critical: 80 }\n',
    );
    expect([60, 300, 3600, 7200, 86_400, 172_800].map(bucketName)).toEqual([
      'a minute',
      '5 minutes',
      'an hour',
      '2 hours',
      'a day',
      '2 days',
    ]);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
  });
});

describe(consoleQuery.name, () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('reads the window and the route filter', () => {
    expect(consoleQuery({ route: 'payments', last: '1h' }, now)).toEqual({
      fromMs: now - 3_600_000,
      toMs: now,
      route: 'payments',
    });
    expect(consoleQuery({ route: '' }, now).route).toBeNull();
  });

  it('refuses with a 400 naming the parameter', () => {
    expect(() => consoleQuery({ from: 'soon' }, now)).toThrow(/^from:/);
    expect(() => consoleQuery({ route: ['a', 'b'] }, now)).toThrow(/route: give it once/);
    expect(() => consoleQuery({ route: 'x'.repeat(129) }, now)).toThrow(/at most 128/);
  });
});
