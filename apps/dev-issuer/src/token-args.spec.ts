import { describe, expect, it } from 'vitest';
import { parseTokenArgs, TOKEN_USAGE } from './token-args';

const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

describe(parseTokenArgs.name, () => {
  it('keeps the existing flags', () => {
    expect(
      parseTokenArgs([
        '--sub',
        'alice',
        '--acr',
        'urn:x',
        '--ttl',
        '60',
        '--sid',
        's1',
        '--group',
        'a',
        '--group',
        'b',
      ]),
    ).toEqual({
      sub: 'alice',
      acr: 'urn:x',
      ttlSeconds: 60,
      sid: 's1',
      claims: { groups: ['a', 'b'] },
      jkt: undefined,
    });
    expect(parseTokenArgs(['--sub', 'bob'])).toEqual({
      sub: 'bob',
      acr: undefined,
      ttlSeconds: undefined,
      sid: undefined,
      claims: undefined,
      jkt: undefined,
    });
  });

  it('takes a value that starts with a dash, as one thumbprint in 64 does', () => {
    const dashed = `-${JKT.slice(1)}`;
    expect(parseTokenArgs(['--sub', '-bob', '--dpop-jkt', dashed])).toMatchObject({
      sub: '-bob',
      jkt: dashed,
    });
    expect(parseTokenArgs([`--dpop-jkt=${dashed}`, '--sub', 'bob']).jkt).toBe(dashed);
  });

  it('binds the token to a DPoP key with --dpop-jkt', () => {
    expect(parseTokenArgs(['--sub', 'alice', '--dpop-jkt', JKT])).toMatchObject({ sub: 'alice', jkt: JKT });
  });

  it('refuses what is not an RFC 7638 SHA-256 thumbprint, and says how to call it', () => {
    for (const bad of ['short', `${JKT}=`, `${JKT.slice(0, -1)}+`, `${JKT}A`])
      expect(() => parseTokenArgs(['--sub', 'alice', '--dpop-jkt', bad]), bad).toThrow(/--dpop-jkt/);
    expect(() => parseTokenArgs([])).toThrow(TOKEN_USAGE);
    expect(() => parseTokenArgs(['--sub', 'alice', '--ttl', '0'])).toThrow(/--ttl/);
    expect(TOKEN_USAGE).toContain('--dpop-jkt THUMBPRINT');
  });
});
