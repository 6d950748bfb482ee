import { describe, expect, it } from 'vitest';
import { DpopError } from './dpop.errors';
import { dpopChallenge, wwwAuthenticate } from './www-authenticate';

describe(wwwAuthenticate.name, () => {
  it('builds a DPoP challenge with algs', () => {
    expect(
      wwwAuthenticate({
        scheme: 'DPoP',
        error: 'invalid_dpop_proof',
        errorDescription: 'DPoP proof is too large',
        algs: ['ES256', 'EdDSA'],
      }),
    ).toBe(
      'DPoP realm="stepgate", error="invalid_dpop_proof", error_description="DPoP proof is too large", algs="ES256 EdDSA"',
    );
  });

  it('builds a Bearer challenge, without algs', () => {
    expect(wwwAuthenticate({ scheme: 'Bearer', algs: ['ES256'] })).toBe('Bearer realm="stepgate"');
    expect(wwwAuthenticate({ scheme: 'Bearer', error: 'invalid_token', scope: 'orders' })).toBe(
      'Bearer realm="stepgate", error="invalid_token", scope="orders"',
    );
  });

  it('keeps hostile text inside its quoted string', () => {
    const header = wwwAuthenticate({
      scheme: 'DPoP',
      realm: 'a"b\\c',
      errorDescription: 'x", error="ok\r\nSet-Cookie: s=1\u0000é',
    });
    expect(header).toBe('DPoP realm="a\\"b\\\\c", error_description="x\\", error=\\"okSet-Cookie: s=1"');
    expect(header).not.toMatch(/[\r\n\u0000]/);
    expect(wwwAuthenticate({ scheme: 'DPoP', errorDescription: 'y'.repeat(1000) }).length).toBeLessThan(260);
  });

  it('refuses an error code or alg that is not a token', () => {
    expect(() => wwwAuthenticate({ scheme: 'DPoP', error: 'bad"code' })).toThrow(TypeError);
    expect(() => wwwAuthenticate({ scheme: 'DPoP', algs: ['ES256"'] })).toThrow(TypeError);
  });

  it('answers a DpopError', () => {
    expect(
      dpopChallenge(new DpopError('use_dpop_nonce', 'DPoP proof requires a fresh server nonce'), ['ES256']),
    ).toBe(
      'DPoP realm="stepgate", error="use_dpop_nonce", error_description="DPoP proof requires a fresh server nonce", algs="ES256"',
    );
    expect(dpopChallenge(undefined, ['ES256'])).toBe('DPoP realm="stepgate", algs="ES256"');
  });
});
