import { describe, expect, it } from 'vitest';
import { authorizationOf } from './authorization.header';
import { DpopError } from './dpop.errors';

describe(authorizationOf.name, () => {
  it.each([
    ['Bearer abc.def-ghi_jkl~', { scheme: 'bearer', token: 'abc.def-ghi_jkl~' }],
    ['bearer abc', { scheme: 'bearer', token: 'abc' }],
    ['BEARER abc==', { scheme: 'bearer', token: 'abc==' }],
    ['DPoP eyJ.eyJ.sig', { scheme: 'dpop', token: 'eyJ.eyJ.sig' }],
    ['dpop a+b/c=', { scheme: 'dpop', token: 'a+b/c=' }],
  ])('parses %j', (header, expected) => {
    expect(authorizationOf(header)).toEqual(expected);
    expect(authorizationOf([header])).toEqual(expected);
  });

  it.each([undefined, [], 'Basic dXNlcjpwYXNz', 'Negotiate', 'Bearers abc', 'Token abc'])(
    'gives null for no credentials or another scheme: %j',
    (header) => {
      expect(authorizationOf(header)).toBeNull();
    },
  );

  it.each([
    ['an empty value', ''],
    ['no scheme', ' abc'],
    ['no token', 'Bearer'],
    ['an empty token', 'Bearer '],
    ['two spaces', 'Bearer  abc'],
    ['a tab', 'Bearer\tabc'],
    ['a trailing space', 'DPoP abc '],
    ['two tokens', 'Bearer abc def'],
    ['a comma list', 'Bearer abc, DPoP def'],
    ['padding inside', 'Bearer ab=c'],
    ['a quoted token', 'Bearer "abc"'],
    ['non-ASCII', 'Bearer abcé'],
    ['an oversized value', `Bearer ${'a'.repeat(9000)}`],
  ])('refuses %s with invalid_request', (_name, header) => {
    expect(() => authorizationOf(header)).toThrow(DpopError);
    expect(() => authorizationOf(header)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('refuses a repeated header, even when both values agree', () => {
    expect(() => authorizationOf(['Bearer abc', 'Bearer abc'])).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
    expect(() => authorizationOf(['Bearer abc', 'Basic x'])).toThrow(DpopError);
  });
});
