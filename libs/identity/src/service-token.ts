// Service-to-service calls on private ports (the gateway asking risk for an assessment,
// adr/0016-direct-risk-path): a short-lived ES256 JWT the caller signs with the key it already publishes in
// its JWKS, verified by the callee against that JWKS. Explicitly typed and addressed (RFC 8725 section 3.11):
// no other token the same key signs (an identity assertion an upstream received) passes for one, nor one
// minted for another service.
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type CryptoKey, type JWTVerifyGetKey } from 'jose';

export const SERVICE_TOKEN_TYPE = 'stepgate-service+jwt';

/** The longest lifetime (exp - iat) a verifier accepts: a leaked token is good for minutes, not days. */
const MAX_LIFETIME_SECONDS = 600;

export interface ServiceTokenSettings {
  /** The caller's issuer name (the gateway's assertion issuer). */
  issuer: string;
  /** The service called (e.g. RISK_SERVICE_AUDIENCE). */
  audience: string;
  /** Who calls, for the callee's logs (e.g. the gateway instance). */
  subject: string;
  /** One token's lifetime; a fresh one is minted once less than a third of it is left. */
  ttlSeconds: number;
}

export class ServiceTokenSigner {
  private current: { jwt: string; renewAtMs: number } | null = null;
  private minting: Promise<string> | null = null;

  constructor(
    private readonly settings: ServiceTokenSettings,
    private readonly key: { kid: string; privateKey: CryptoKey },
    private readonly now: () => number = Date.now,
  ) {
    if (settings.ttlSeconds < 30 || settings.ttlSeconds > MAX_LIFETIME_SECONDS)
      throw new Error(`a service token lives 30 to ${MAX_LIFETIME_SECONDS} s`);
  }

  /** The current token while it has a third of its life left (so clock skew never expires it in flight). */
  async token(): Promise<string> {
    if (this.current && this.now() < this.current.renewAtMs) return this.current.jwt;
    // Concurrent callers share one signature.
    this.minting ??= this.mint().finally(() => (this.minting = null));
    return this.minting;
  }

  private async mint(): Promise<string> {
    const nowMs = this.now();
    const iat = Math.floor(nowMs / 1000);
    const { issuer, audience, subject, ttlSeconds } = this.settings;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: SERVICE_TOKEN_TYPE })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .setJti(randomUUID())
      .sign(this.key.privateKey);
    this.current = { jwt, renewAtMs: nowMs + Math.floor((ttlSeconds * 2000) / 3) };
    return jwt;
  }
}

/** The caller is not let in: no token, or one that does not verify. Answer 401. */
export class ServiceTokenError extends Error {
  readonly code = 'invalid_token';
}

/** The caller's keys could not be read (its JWKS unreachable or broken): not the caller's fault. 503. */
export class ServiceKeysUnavailable extends Error {
  readonly code = 'keys_unavailable';
}

export interface ServiceTokenVerifierSettings {
  issuer: string;
  audience: string;
  /** The caller's JWKS URL (or a key resolver, for tests). */
  jwks: string | JWTVerifyGetKey;
  clockToleranceSeconds?: number;
}

export interface VerifiedCaller {
  subject: string;
}

export class ServiceTokenVerifier {
  private readonly keys: JWTVerifyGetKey;
  /** Verified tokens until they expire: a caller presents one for minutes, so most calls skip the signature. */
  private readonly verified = new Map<string, { caller: VerifiedCaller; expMs: number }>();

  constructor(
    private readonly settings: ServiceTokenVerifierSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.keys =
      typeof settings.jwks === 'string'
        ? // An unknown kid refetches at most every 30 s: forged kids cannot make this a JWKS fetcher.
          createRemoteJWKSet(new URL(settings.jwks), { cooldownDuration: 30_000, timeoutDuration: 2_000 })
        : settings.jwks;
  }

  /** The caller of an `Authorization: Bearer <token>` header; else ServiceTokenError or ServiceKeysUnavailable. */
  async verify(authorization: string | undefined): Promise<VerifiedCaller> {
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization ?? '');
    if (!match) throw new ServiceTokenError('a service token is required (Authorization: Bearer)');
    const jwt = match[1]!;
    const hit = this.verified.get(jwt);
    if (hit && this.now() < hit.expMs) return hit.caller;
    if (hit) this.verified.delete(jwt);

    const tolerance = this.settings.clockToleranceSeconds ?? 5;
    let payload;
    try {
      ({ payload } = await jwtVerify(jwt, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        typ: SERVICE_TOKEN_TYPE,
        algorithms: ['ES256'],
        requiredClaims: ['iat', 'exp', 'sub'],
        maxTokenAge: MAX_LIFETIME_SECONDS,
        clockTolerance: tolerance,
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      if (keysUnavailable(err))
        throw new ServiceKeysUnavailable(`the caller's keys cannot be read: ${String(err)}`);
      const reason = err instanceof errors.JOSEError ? err.code : 'unverifiable';
      throw new ServiceTokenError(`the service token does not verify (${reason})`);
    }
    const { sub, iat, exp } = payload as { sub: string; iat: number; exp: number };
    if (exp - iat > MAX_LIFETIME_SECONDS)
      throw new ServiceTokenError(`the service token lives longer than ${MAX_LIFETIME_SECONDS} s`);
    const caller = { subject: sub };
    // A handful of callers (one token per gateway instance): bounded all the same.
    if (this.verified.size >= 64) this.verified.clear();
    this.verified.set(jwt, { caller, expMs: (exp + tolerance) * 1000 });
    return caller;
  }
}

/** Errors of reading the keys, not of the token: a timeout, a network failure, a JWKS that is not one. */
function keysUnavailable(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return (
    err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC'
  );
}
