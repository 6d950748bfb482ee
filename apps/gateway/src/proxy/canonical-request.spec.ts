import { describe, expect, it } from 'vitest';
import {
  BadRequestPath,
  canonicalHost,
  canonicalTarget,
  policyMethod,
  withoutPrefix,
} from './canonical-request';

describe(canonicalTarget.name, () => {
  const sut = canonicalTarget;

  it.each([
    ['/api/reports/q3', '/api/reports/q3'],
    ['/api//reports///q3', '/api/reports/q3'],
    ['/api/./reports/q3', '/api/reports/q3'],
    ['/api/admin/../reports/q3', '/api/reports/q3'],
    ['/api/%61dmin/x', '/api/admin/x'],
    ['/api/reports/', '/api/reports/'],
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
    ['/api/reports/..;/admin/x', /matrix parameters/],
    ['/api/reports/.;x/admin', /matrix parameters/],
    ['/api/payments;x/1', /matrix parameters/],
    ['/api/payments%3Bx/1', /matrix parameters/],
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

describe(canonicalHost.name, () => {
  it.each([
    ['Example.COM', 'example.com', 'example.com'],
    ['example.com.', 'example.com', 'example.com'],
    ['example.com:80', 'example.com', 'example.com'],
    ['example.com:8080', 'example.com', 'example.com:8080'],
    ['example.com:08080', 'example.com', 'example.com:8080'],
    ['bücher.example', 'xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['XN--BCHER-KVA.example', 'xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['127.0.0.1:3000', '127.0.0.1', '127.0.0.1:3000'],
    ['[::1]:8080', '[::1]', '[::1]:8080'],
    ['[2001:DB8::1]', '[2001:db8::1]', '[2001:db8::1]'],
  ])('canonicalises %s', (raw, hostname, authority) => {
    expect(canonicalHost(raw)).toEqual({ hostname, authority });
  });

  it('strips 443 for https', () => {
    expect(canonicalHost('example.com:443', 'https')?.authority).toBe('example.com');
    expect(canonicalHost('example.com:443', 'http')?.authority).toBe('example.com:443');
  });

  it.each([
    undefined,
    '',
    'user@example.com',
    'example.com/path',
    'example.com:99999',
    'example.com:0',
    'example.com:abc',
    'exa mple.com',
    'a..b',
    '::1',
    '[not-ipv6]',
    'example.com\\evil',
    'exa_mple.com',
    'a\u0000b.example',
  ])('rejects %j', (raw) => {
    expect(canonicalHost(raw)).toBeNull();
  });
});

describe(withoutPrefix.name, () => {
  it('takes whole leading segments off, and nothing else', () => {
    expect(withoutPrefix('/.stepgate/admin/console', '/.stepgate')).toBe('/admin/console');
    expect(withoutPrefix('/.stepgate', '/.stepgate')).toBe('/');
    expect(withoutPrefix('/.stepgateway/x', '/.stepgate')).toBe('/.stepgateway/x');
    expect(withoutPrefix('/api/x', undefined)).toBe('/api/x');
  });
});
