import { describe, expect, it } from 'vitest';
import { returnToOrRoot, safeReturnTo } from './return-to';

describe(safeReturnTo.name, () => {
  const sut = safeReturnTo;

  it.each([
    ['/api/payments/1', '/api/payments/1'],
    ['/api/payments/1?x=2&y=%2F', '/api/payments/1?x=2&y=%2F'],
    ['/', '/'],
    ['/a/../b', '/b'],
    ['/api/reports#frag', '/api/reports'],
  ])('keeps the same-origin path %s', (value, expected) => {
    expect(sut(value)).toBe(expected);
  });

  it.each([
    '//evil.com',
    '//evil.com/path',
    '/\\evil.com',
    '\\/evil.com',
    '/\\/evil.com',
    'https://evil.com',
    'http:evil.com',
    'javascript:alert(1)',
    '%2F%2Fevil.com',
    '/%2F%2Fevil.com',
    '/%5Cevil.com',
    '/%5c%5cevil.com',
    '/\tevil',
    '/\n/evil.com',
    ' /api',
    '/api\u0000',
    '',
    'evil.com',
    '/' + 'a'.repeat(3000),
    '///evil.com',
  ])('refuses %j', (value) => {
    expect(sut(value)).toBeNull();
  });

  it('refuses what is not a string', () => {
    expect(sut(undefined)).toBeNull();
    expect(sut(['/a'])).toBeNull();
  });

  it('falls back to the root', () => {
    expect(returnToOrRoot('//evil.com')).toBe('/');
    expect(returnToOrRoot('/ok')).toBe('/ok');
  });
});
