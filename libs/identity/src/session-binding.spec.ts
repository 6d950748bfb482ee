import { describe, expect, it } from 'vitest';
import { sessionBindingOf } from './session-binding';
import type { VerifiedToken } from './token.verifier';

const token = (over: Partial<VerifiedToken> = {}): VerifiedToken => ({
  kind: 'access',
  subject: 'alice',
  issuer: 'https://issuer.example',
  acr: null,
  amr: [],
  authTime: 1_764_300_000,
  sessionId: null,
  deviceId: null,
  jkt: null,
  riskLevel: null,
  expiresAt: 1_764_300_600,
  tokenId: null,
  claims: {
    iss: 'https://issuer.example',
    sub: 'alice',
    aud: 'stepgate',
    iat: 1_764_300_000,
    exp: 1_764_300_600,
  },
  ...over,
});

describe(sessionBindingOf.name, () => {
  it("is the token's sid when it has one, whatever else it carries", () => {
    expect(sessionBindingOf(token({ sessionId: 'session-1', tokenId: 'jti-1' }))).toBe('session-1');
  });

  it('is its jti, hashed, without a sid', () => {
    const a = sessionBindingOf(token({ tokenId: 'jti-1' }));
    expect(a).toMatch(/^jti:[A-Za-z0-9_-]{43}$/);
    expect(sessionBindingOf(token({ tokenId: 'jti-1', claims: { other: true } }))).toBe(a);
    expect(sessionBindingOf(token({ tokenId: 'jti-2' }))).not.toBe(a);
    expect(sessionBindingOf(token({ tokenId: 'x'.repeat(4096) })).length).toBeLessThanOrEqual(128);
  });

  it('is a SHA-256 of the token without sid and jti, never the token, and differs between tokens', () => {
    const a = sessionBindingOf(token());
    expect(a).toMatch(/^tok:[A-Za-z0-9_-]{43}$/);
    expect(a).not.toContain('alice');
    expect(sessionBindingOf(token({ claims: { ...token().claims, iat: 1_764_300_001 } }))).not.toBe(a);
    expect(sessionBindingOf(token({ claims: { ...token().claims, azp: 'another-client' } }))).not.toBe(a);
  });

  it('is the same for the same token on both sides, whatever order its claims were read in', () => {
    const { claims } = token();
    const reordered = Object.fromEntries(Object.entries(claims).reverse());
    expect(sessionBindingOf(token({ claims: reordered }))).toBe(sessionBindingOf(token()));
    expect(sessionBindingOf(token({ claims: { ...claims, cnf: { jkt: 'k' }, amr: ['pwd', 'otp'] } }))).toBe(
      sessionBindingOf(token({ claims: { amr: ['pwd', 'otp'], cnf: { jkt: 'k' }, ...claims } })),
    );
  });
});
