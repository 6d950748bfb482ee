import { describe, expect, it } from 'vitest';
import { returnToOrRoot, safeReturnTo } from './return-to';

describe(safeReturnTo.name, () => {
  const sut = safeReturnTo;

  it.each([
    ['/api/payments/1', '/api/payments/1'],
    ['/api/payments/42?x=1', '/api/payments/42?x=1'],
    ['/api/payments/1?x=2&y=%2F', '/api/payments/1?x=2&y=%2F'],
    ['/', '/'],
    ['/a/../b', '/b'],
    ['/a/%2e%2e/b', '/b'],
    ['/api/reports#frag', '/api/reports'],
    ['/files/r%C3%A9sum%C3%A9', '/files/r%C3%A9sum%C3%A9'],
  ])('keeps the same-origin path %s', (value, expected) => {
    expect(sut(value)).toBe(expected);
  });

  it.each([
    // Another origin, as browsers read it.
    '//evil.com',
    '//evil.com/path',
    '///evil.com',
    '/\\evil.com',
    '\\/evil.com',
    '/\\/evil.com',
    'https://evil.com',
    'http:evil.com',
    'javascript:alert(1)',
    'evil.com',
    'api/x',
    // Dot segments that leave `//` at the start.
    '/..//evil.com',
    '/.//evil.com',
    '/%2e%2e//evil.com',
    // Encoded forms another decoder could turn into one.
    '%2F%2Fevil.com',
    '/%2F%2Fevil.com',
    '/%5Cevil.com',
    '/%5c%5cevil.com',
    '/%252F%252Fevil.com',
    '/%00',
    '/%0d%0aLocation:%20x',
    '/100%',
    '/a%zz',
    // Whitespace, controls and what RFC 3986 does not allow unencoded.
    '/\tevil',
    '/\n/evil.com',
    '/ok\nLocation: x',
    ' /api',
    '/a b',
    '/api\u0000',
    '/api\u007f',
    '/api/"><script>',
    '/api/`x`',
    '/caf\u00e9',
    '/a?q={x}',
    // Size.
    '',
    `/${'a'.repeat(2048)}`,
    '/' + 'a'.repeat(3000),
  ])('refuses %j', (value) => {
    expect(sut(value)).toBeNull();
  });

  it('refuses what is not a string', () => {
    expect(sut(undefined)).toBeNull();
    expect(sut(42)).toBeNull();
    expect(sut(['/a'])).toBeNull();
  });

  it('falls back to the root', () => {
    expect(returnToOrRoot('//evil.com')).toBe('/');
    expect(returnToOrRoot('/ok')).toBe('/ok');
  });
});
