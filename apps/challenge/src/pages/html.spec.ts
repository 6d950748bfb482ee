import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, escapeHtml, html, layout, trusted } from './html';

describe(html.name, () => {
  it('escapes every interpolated value, in text and in attributes', () => {
    const evil = `"><script>alert('x')</script>&\``;
    const out = html`<p title="${evil}">${evil}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;</p>',
    );
  });

  it('keeps nested html and trusted markup, and renders lists and empty values', () => {
    const items = ['a<b', 'c'].map((x) => html`<li>${x}</li>`);
    const list = html`<ul>
      ${items}
    </ul>`;
    expect(list.value.replace(/\s+/g, '')).toBe('<ul><li>a&lt;b</li><li>c</li></ul>');
    expect(html`${null}${undefined}${false}${0}`.value).toBe('0');
    expect(html`${trusted('<svg></svg>')}`.value).toBe('<svg></svg>');
  });

  it('escapes the five characters that matter, and backticks', () => {
    expect(escapeHtml(`&<>"'\``)).toBe('&amp;&lt;&gt;&quot;&#39;&#96;');
  });
});

describe(layout.name, () => {
  it('has a language, a viewport, landmarks, no inline script, and escapes the title', () => {
    const page = layout({ title: '<t>', csrfToken: 'a"b', body: html`<h1>x</h1>` }).value;
    expect(page).toContain('<html lang="en">');
    expect(page).toContain('name="viewport"');
    expect(page).toMatch(/<main id="main"/);
    expect(page).toContain('<title>&lt;t&gt; · StepGate</title>');
    expect(page).toContain('content="a&quot;b"');
    expect(page.match(/<script[^>]*>/g)).toEqual([
      expect.stringContaining('src="/.stepgate/challenges/assets/stepgate.js"'),
    ]);
    expect(page).not.toMatch(/style=/);
  });

  it('forbids inline script, framing and foreign form targets', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("form-action 'self'");
  });
});
