// Verifies bearer tokens with jose: access tokens from configured OIDC issuers, and the stepped-up tokens
// the challenge service issues. Explicit algorithm allowlists, iss/aud/exp/nbf with bounded skew, typ
// checked; keys come only from configured JWKS URLs, never from anything inside a token.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
} from 'jose';

import { isJkt } from './dpop/device';

export const STEP_UP_TOKEN_TYPE = 'stepgate-stepup+jwt';

export interface IssuerSettings {
  issuer: string;
  jwksUri: string;
  audience: string;
  algorithms: string[];
  /** When set, the token's `typ` header must be exactly this (e.g. `at+jwt`, RFC 9068); else any access-token type. */
  typ?: string;
  /** Least time between two JWKS fetches triggered by an unknown `kid` (default 30 s). */
  jwksCooldownSeconds?: number;
}

export interface VerifierOptions {
  /** Verified tokens kept (by their raw string) until they expire, so a repeat costs no signature check. */
  cacheMaxEntries?: number;
}

export interface StepUpIssuerSettings {
  issuer: string;
  audience: string;
  /** A JWKS URL, or the key set itself (the challenge service verifies its own tokens locally). */
  jwks: string | JSONWebKeySet | (() => JSONWebKeySet);
}

export interface VerifiedToken {
  kind: 'access' | 'stepup';
  subject: string;
  issuer: string;
  acr: string | null;
  amr: string[];
  /** Seconds since the epoch, when the token says. */
  authTime: number | null;
  sessionId: string | null;
  /** Stepped-up tokens are bound to the device that passed the challenge. */
  deviceId: string | null;
  /**
   * RFC 9449 `cnf.jkt`: the SHA-256 thumbprint of the DPoP key the token is bound to. A bound token is only
   * good with a valid DPoP proof signed by that key, never as a plain bearer.
   */
  jkt: string | null;
  /** The risk level a stepped-up token was minted for (`risk_level`), null for issuers' access tokens. */
  riskLevel: string | null;
  expiresAt: number;
  tokenId: string | null;
  claims: JWTPayload;
}

export class TokenError extends Error {
  readonly code = 'invalid_token';
}

const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'JWT']);

export class TokenVerifier {
  private readonly issuers = new Map<string, { settings: IssuerSettings; keys: RemoteJWKSet }>();
  private readonly stepUp: { settings: StepUpIssuerSettings; keys: JWTVerifyGetKey } | undefined;
  private readonly cache = new Map<string, VerifiedToken>();
  private readonly cacheMaxEntries: number;

  constructor(
    issuers: IssuerSettings[],
    stepUp: StepUpIssuerSettings | undefined,
    private readonly clockSkewSeconds: number,
    options: VerifierOptions = {},
  ) {
    this.cacheMaxEntries = options.cacheMaxEntries ?? 10_000;
    for (const settings of issuers) {
      this.issuers.set(settings.issuer, {
        settings,
        // jose caches the key set, refetches on an unknown kid, and rate-limits refetches (cooldown); the
        // fetch has its own timeout. No other URL is ever fetched: jku, x5u and jwk headers are ignored.
        keys: createRemoteJWKSet(new URL(settings.jwksUri), {
          cooldownDuration: (settings.jwksCooldownSeconds ?? 30) * 1000,
          cacheMaxAge: 600_000,
          timeoutDuration: 5_000,
        }),
      });
    }
    if (stepUp) this.stepUp = { settings: stepUp, keys: keySetOf(stepUp.jwks) };
  }

  /** True once every configured issuer's key set has been fetched at least once. */
  get issuerKeysLoaded(): boolean {
    for (const { keys } of this.issuers.values()) if (keys.jwks() === undefined) return false;
    return true;
  }

  /** Fetches the key sets not fetched yet; resolves false when one of them could not be fetched. */
  async loadIssuerKeys(): Promise<boolean> {
    const pending = [...this.issuers.values()].filter(({ keys }) => keys.jwks() === undefined);
    const results = await Promise.allSettled(pending.map(({ keys }) => keys.reload()));
    return results.every((r) => r.status === 'fulfilled');
  }

  /**
   * Verifies a token; a token verified before is answered from a bounded cache keyed by its exact string,
   * until its `exp`. Only successes are cached.
   */
  async verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<VerifiedToken> {
    const hit = this.cache.get(token);
    if (hit) {
      if (hit.expiresAt > nowSeconds) return hit;
      this.cache.delete(token);
    }
    const verified = await this.verifyUncached(token);
    if (this.cacheMaxEntries > 0 && verified.expiresAt > nowSeconds) {
      if (this.cache.size >= this.cacheMaxEntries) {
        // Insertion order: the oldest entry goes first.
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.set(token, verified);
    }
    return verified;
  }

  private async verifyUncached(token: string): Promise<VerifiedToken> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverifiedIssuer: unknown;
    try {
      header = decodeProtectedHeader(token);
      unverifiedIssuer = decodeJwt(token).iss;
    } catch {
      throw new TokenError('malformed token');
    }
    if (typeof unverifiedIssuer !== 'string') throw new TokenError('token has no issuer');
    try {
      if (this.stepUp && unverifiedIssuer === this.stepUp.settings.issuer) {
        if (header.typ !== STEP_UP_TOKEN_TYPE)
          throw new TokenError('wrong token type for a stepped-up token');
        const { payload } = await jwtVerify(token, this.stepUp.keys, {
          issuer: this.stepUp.settings.issuer,
          audience: this.stepUp.settings.audience,
          algorithms: ['ES256'],
          typ: STEP_UP_TOKEN_TYPE,
          clockTolerance: this.clockSkewSeconds,
          requiredClaims: ['sub', 'exp', 'iat', 'auth_time', 'acr', 'device_id', 'jti'],
        });
        return toVerified('stepup', checkedClaims(payload, this.clockSkewSeconds));
      }
      const issuer = this.issuers.get(unverifiedIssuer);
      if (!issuer) throw new TokenError('untrusted issuer');
      if (
        header.typ === STEP_UP_TOKEN_TYPE ||
        (header.typ !== undefined && !ACCESS_TOKEN_TYPES.has(header.typ))
      ) {
        // Never echo what the token says: it is unauthenticated input and ends up in response headers.
        throw new TokenError('token type is not an access token');
      }
      if (issuer.settings.typ !== undefined && normaliseTyp(header.typ) !== normaliseTyp(issuer.settings.typ))
        throw new TokenError(`token type must be ${issuer.settings.typ}`);
      const { payload } = await jwtVerify(token, issuer.keys, {
        issuer: issuer.settings.issuer,
        audience: issuer.settings.audience,
        algorithms: issuer.settings.algorithms,
        clockTolerance: this.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
      });
      // An ID token is for the client, not for calling APIs: refuse it as a bearer.
      if (payload.nonce !== undefined || payload.at_hash !== undefined)
        throw new TokenError('ID tokens are not access tokens');
      return toVerified('access', checkedClaims(payload, this.clockSkewSeconds));
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new TokenError('token expired');
      if (err instanceof errors.JOSEError) throw new TokenError(`token rejected: ${err.code}`);
      throw new TokenError('token could not be verified');
    }
  }
}

/** Longest `sub` (the contracts' subject), and `sid` and `acr` (their ids and acr values) a token may carry. */
export const MAX_SUBJECT_LENGTH = 256;
export const MAX_CLAIM_ID_LENGTH = 128;

/**
 * The time rule every verifier of StepGate applies, in one place: a token is good until its `exp` by this
 * clock (so nothing minted from it, an identity assertion or a stepped-up token, starts already expired),
 * and no `iat`, `nbf` or `auth_time` may lie further ahead than the clock skew (an `auth_time` in the future
 * would stay "fresh" forever). Throws TokenError.
 */
export function assertTimeClaims(
  payload: Pick<JWTPayload, 'exp' | 'iat' | 'nbf'> & { auth_time?: unknown },
  clockSkewSeconds: number,
  nowSeconds = Date.now() / 1000,
): void {
  if (typeof payload.exp !== 'number' || payload.exp <= nowSeconds) throw new TokenError('token expired');
  const ahead = nowSeconds + clockSkewSeconds;
  for (const [name, value] of [
    ['iat', payload.iat],
    ['nbf', payload.nbf],
    ['auth_time', payload.auth_time],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TokenError(`${name} is not a time`);
    if (value > ahead) throw new TokenError(`${name} is in the future`);
  }
}

/** The claims StepGate reads, checked: the time rule, and a non-empty `sub` and bounded `sid` and `acr`. */
function checkedClaims(p: JWTPayload, clockSkewSeconds: number): JWTPayload {
  assertTimeClaims(p, clockSkewSeconds);
  if (typeof p.sub !== 'string' || p.sub.length === 0 || p.sub.length > MAX_SUBJECT_LENGTH)
    throw new TokenError('sub must be 1-256 characters');
  for (const name of ['sid', 'acr'] as const) {
    const v = p[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_CLAIM_ID_LENGTH)
      throw new TokenError(`${name} must be 1-${MAX_CLAIM_ID_LENGTH} characters`);
  }
  return p;
}

/** `typ` compares case-insensitively and without the `application/` prefix (RFC 7515 section 4.1.9). */
function normaliseTyp(typ: string | undefined): string | undefined {
  return typ?.toLowerCase().replace(/^application\//, '');
}

function keySetOf(jwks: StepUpIssuerSettings['jwks']): JWTVerifyGetKey {
  if (typeof jwks === 'string') return createRemoteJWKSet(new URL(jwks), { cooldownDuration: 30_000 });
  if (typeof jwks === 'function') return (header, input) => createLocalJWKSet(jwks())(header, input);
  return createLocalJWKSet(jwks);
}

function toVerified(kind: VerifiedToken['kind'], p: JWTPayload): VerifiedToken {
  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  return {
    kind,
    subject: p.sub!,
    issuer: p.iss!,
    acr: str(p.acr),
    amr: Array.isArray(p.amr) ? p.amr.filter((x): x is string => typeof x === 'string') : [],
    authTime: typeof p.auth_time === 'number' ? p.auth_time : null,
    sessionId: str(p.sid),
    deviceId: str(p.device_id),
    jkt: confirmationJkt(p.cnf),
    riskLevel: str(p.risk_level),
    expiresAt: p.exp!,
    tokenId: str(p.jti),
    claims: p,
  };
}

// An RFC 7638 SHA-256 thumbprint: 32 bytes, base64url without padding.

/**
 * The DPoP key a token is bound to, null for an unbound token. A `cnf` the gateway cannot check in full (not
 * an object, no well-formed `jkt`, or another confirmation method such as mTLS `x5t#S256`, alone or beside
 * `jkt`) refuses the token: ignoring a binding would turn a sender-constrained token into a bearer one.
 */
function confirmationJkt(cnf: unknown): string | null {
  if (cnf === undefined) return null;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
    throw new TokenError('token confirmation (cnf) is malformed');
  const members = Object.keys(cnf);
  const jkt = (cnf as Record<string, unknown>).jkt;
  if (typeof jkt !== 'string' || !isJkt(jkt) || members.some((m) => m !== 'jkt'))
    throw new TokenError('token confirmation (cnf) is not a DPoP key binding the gateway can verify');
  return jkt;
}

/** The token from an `Authorization: Bearer ...` header, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  return match?.[1] ?? null;
}
