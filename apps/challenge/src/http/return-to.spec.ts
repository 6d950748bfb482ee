import { describe, expect, it } from 'vitest';
import { safeReturnTo } from './return-to';

describe(safeReturnTo.name, () => {
  it('keeps a path on this origin, query included', () => {
    expect(safeReturnTo('/api/payments/42?x=1')).toBe('/api/payments/42?x=1');
    expect(safeReturnTo('/')).toBe('/');
  });

  it.each([
    ['protocol-relative', '//evil.example/x'],
    ['absolute', 'https://evil.example/'],
    ['backslash', '/\\evil.example'],
    ['scheme', 'javascript:alert(1)'],
    ['relative', 'api/x'],
    ['newline', '/ok\nLocation: x'],
    ['space', '/a b'],
    ['markup', '/api/"><script>'],
    ['empty', ''],
    ['too long', `/${'a'.repeat(2048)}`],
    ['not a string', 42],
  ])('refuses %s', (_name, value) => {
    expect(safeReturnTo(value)).toBeNull();
  });
});
