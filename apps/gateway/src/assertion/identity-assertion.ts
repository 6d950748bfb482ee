// X-StepGate-Assertion: a short-lived ES256 JWT telling the upstream who passed the gateway, how strongly
// they authenticated, how risky the request looked and which route let it through. Upstreams verify it
// with the gateway's JWKS (/.stepgate/jwks.json). One assertion is reused for a few seconds for the same
// token, route, upstream, device and risk, so the hot path signs rarely.
import { randomUUID } from 'node:crypto';
import type { RiskAssessment } from '@stepgate/contracts';
import { TokenError, type VerifiedToken } from '@stepgate/identity';
import { SignJWT, type CryptoKey, type JWK } from 'jose';

export const ASSERTION_HEADER = 'x-stepgate-assertion';
export const ASSERTION_TYPE = 'stepgate-assertion+jwt';

export interface AssertionSettings {
  issuer: string;
  ttlSeconds: number;
  reuseSeconds: number;
}

export interface AssertionInput {
  token: VerifiedToken;
  audience: string;
  route: string;
  deviceId: string | null;
  risk: RiskAssessment | null;
}

interface Signed {
  jwt: string;
  reuseUntil: number;
}

export class IdentityAssertionSigner {
  // Keyed by the verified token object (the verifier hands out the same object for the same token string),
  // so entries go when the token leaves the verifier's cache.
  private readonly signed = new WeakMap<VerifiedToken, Map<string, Signed>>();

  constructor(
    private readonly settings: AssertionSettings,
    private readonly key: { kid: string; privateKey: CryptoKey; publicJwk: JWK },
  ) {}

  get jwks(): { keys: JWK[] } {
    return { keys: [this.key.publicJwk] };
  }

  async assertion(input: AssertionInput, nowMs = Date.now()): Promise<string> {
    const slot = `${input.audience}\u0000${input.route}\u0000${input.deviceId ?? ''}\u0000${input.risk?.score ?? ''}\u0000${input.risk?.level ?? ''}`;
    let perToken = this.signed.get(input.token);
    const hit = perToken?.get(slot);
    if (hit && hit.reuseUntil > nowMs) return hit.jwt;
    const now = Math.floor(nowMs / 1000);
    // Never outlive the token it speaks for, and never start expired: a token past its exp (by this clock,
    // a moment after it was verified) gets no assertion.
    const exp = Math.min(now + this.settings.ttlSeconds, input.token.expiresAt);
    if (exp <= now) throw new TokenError('token expired');
    const t = input.token;
    const jwt = await new SignJWT({
      acr: t.acr,
      amr: t.amr,
      auth_time: t.authTime,
      sid: t.sessionId,
      device_id: input.deviceId,
      token_kind: t.kind,
      token_issuer: t.issuer,
      risk: input.risk ? { score: input.risk.score, level: input.risk.level } : null,
      route: input.route,
    })
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: ASSERTION_TYPE })
      .setIssuer(this.settings.issuer)
      .setAudience(input.audience)
      .setSubject(t.subject)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.key.privateKey);
    if (this.settings.reuseSeconds > 0) {
      if (!perToken) {
        perToken = new Map();
        this.signed.set(input.token, perToken);
      }
      if (perToken.size > 64) perToken.clear();
      perToken.set(slot, {
        jwt,
        reuseUntil: Math.min(nowMs + this.settings.reuseSeconds * 1000, exp * 1000 - 5000),
      });
    }
    return jwt;
  }
}
