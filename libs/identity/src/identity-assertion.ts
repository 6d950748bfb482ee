// X-StepGate-Assertion: a short-lived ES256 JWT telling the upstream who passed the gateway, how strongly
// they authenticated, how risky the request looked and which route let it through. The one definition of
// it: the gateway signs it here, and whoever trusts it (an upstream, risk's admin API) verifies it here, with
// the gateway's JWKS (/.stepgate/jwks.json). One assertion is reused for a few seconds for the same token,
// route, upstream, device and risk, so the hot path signs rarely.
import { randomUUID } from 'node:crypto';
import type { RiskAssessment } from '@stepgate/contracts';
import {
  createRemoteJWKSet,
  errors,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { TokenError, type VerifiedToken } from './token.verifier';

export const ASSERTION_HEADER = 'x-stepgate-assertion';
export const ASSERTION_TYPE = 'stepgate-assertion+jwt';

/** The claims an assertion carries besides iss, aud (the upstream), sub, iat, exp and jti. */
export interface IdentityAssertionClaims {
  acr: string | null;
  amr: string[];
  auth_time: number | null;
  sid: string | null;
  device_id: string | null;
  token_kind: VerifiedToken['kind'];
  token_issuer: string;
  risk: Pick<RiskAssessment, 'score' | 'level'> | null;
  /** The id of the route the request passed by. */
  route: string;
}

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
  risk: Pick<RiskAssessment, 'score' | 'level'> | null;
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
    const claims: IdentityAssertionClaims = {
      acr: t.acr,
      amr: t.amr,
      auth_time: t.authTime,
      sid: t.sessionId,
      device_id: input.deviceId,
      token_kind: t.kind,
      token_issuer: t.issuer,
      risk: input.risk ? { score: input.risk.score, level: input.risk.level } : null,
      route: input.route,
    };
    const jwt = await new SignJWT({ ...claims })
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

/** An assertion that is absent, not the gateway's, not for this audience, of another type, or too old. */
export class IdentityAssertionError extends Error {
  readonly code = 'invalid_assertion';
}

export interface AssertionVerifierSettings {
  /** The gateway's assertion issuer. */
  issuer: string;
  /** The upstream the verifier serves: the gateway addresses each assertion to the upstream it forwards to. */
  audience: string;
  /** The gateway's JWKS URL (or a key resolver, for tests). */
  jwks: string | JWTVerifyGetKey;
}

export interface VerifiedAssertion {
  subject: string;
  /**
   * The claims by their names, values as signed: the signature says the gateway wrote them, not which
   * gateway version, so each value is checked where it is used.
   */
  claims: JWTPayload & { readonly [K in keyof IdentityAssertionClaims]?: unknown };
}

/** How old an assertion may be: the gateway mints one per request (reused for seconds), never ahead of it. */
const MAX_AGE_SECONDS = 60;

export class IdentityAssertionVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly settings: AssertionVerifierSettings) {
    this.keys =
      typeof settings.jwks === 'string'
        ? // An unknown kid refetches at most every 30 s: forged kids cannot make this a JWKS fetcher.
          createRemoteJWKSet(new URL(settings.jwks), { cooldownDuration: 30_000, timeoutDuration: 5_000 })
        : settings.jwks;
  }

  /** The verified assertion, or IdentityAssertionError saying why not. */
  async verify(jwt: string): Promise<VerifiedAssertion> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        typ: ASSERTION_TYPE,
        algorithms: ['ES256'],
        maxTokenAge: MAX_AGE_SECONDS,
        clockTolerance: 5,
      }));
    } catch (err) {
      const reason = err instanceof errors.JOSEError ? err.code : 'unverifiable';
      throw new IdentityAssertionError(`the identity assertion does not verify (${reason})`);
    }
    const { sub } = payload;
    if (typeof sub !== 'string' || sub.length === 0)
      throw new IdentityAssertionError('the identity assertion names no subject');
    return { subject: sub, claims: payload };
  }
}
