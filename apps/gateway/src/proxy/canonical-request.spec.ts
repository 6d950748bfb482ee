import { describe, expect, it } from 'vitest';
import { BadRequestPath, canonicalTarget, policyMethod } from './canonical-request';

describe(canonicalTarget.name, () => {
  const sut = canonicalTarget;

  it.each([
    ['/api/reports/q3', '/api/reports/q3'],
    ['/api//reports///q3', '/api/reports/q3'],
    ['/api/./reports/q3', '/api/reports/q3'],
    ['/api/admin/../reports/q3', '/api/reports/q3'],
    ['/api/%61dmin/x', '/api/admin/x'],
    ['/api/reports/', '/api/reports/'],
    ['/api/reports;jsessionid=1/x', '/api/reports;jsessionid=1/x'],
    ['/api/reports/q3#frag', '/api/reports/q3'],
  ])('canonicalises %s to %s', (raw, path) => {
    expect(sut(raw).path).toBe(path);
  });

  it.each([
    ['/api/admin%2fx', /encoded slash/],
    ['/api/admin%5cx', /encoded slash/],
    ['/api\\admin', /backslash/],
    ['/api/%00', /NUL/],
    ['/api/%0d%0aX: y', /control/],
    ['/../etc/passwd', /above the root/],
    ['/api/%zz', /percent-encoding/],
    ['api/reports', /absolute path/],
    ['/api/reports/..;/admin/x', /dot segment/],
    ['/api/reports/.;x/admin', /dot segment/],
  ])('rejects %s', (raw, reason) => {
    expect(() => sut(raw)).toThrow(BadRequestPath);
    expect(() => sut(raw)).toThrow(reason);
  });

  it('gives the upstream the path policy judged, re-encoded, with the query kept', () => {
    const t = sut('/api/admin/../reports/a%20b?x=1&y=%2F');
    expect(t.path).toBe('/api/reports/a b');
    expect(t.upstreamPath).toBe('/api/reports/a%20b');
    expect(t.query).toBe('?x=1&y=%2F');
  });

  it('judges what the upstream would see, over a corpus of tricks', () => {
    const corpus = ['/api//admin', '/api/reports/%2e%2e/admin', '/api/reports/%2E./admin', '/./api/admin'];
    for (const raw of corpus) {
      const t = sut(raw);
      // Decoding the upstream path again yields exactly the judged path: no second interpretation.
      expect(decodeURIComponent(t.upstreamPath)).toBe(t.path);
    }
  });
});

describe(policyMethod.name, () => {
  it('judges HEAD as GET', () => {
    expect(policyMethod('HEAD')).toBe('GET');
    expect(policyMethod('POST')).toBe('POST');
  });
});
