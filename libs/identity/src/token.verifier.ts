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
} from 'jose';

export const STEP_UP_TOKEN_TYPE = 'stepgate-stepup+jwt';

export interface IssuerSettings {
  issuer: string;
  jwksUri: string;
  audience: string;
  algorithms: string[];
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
  expiresAt: number;
  tokenId: string | null;
  claims: JWTPayload;
}

export class TokenError extends Error {
  readonly code = 'invalid_token';
}

const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'JWT']);

export class TokenVerifier {
  private readonly issuers = new Map<string, { settings: IssuerSettings; keys: JWTVerifyGetKey }>();
  private readonly stepUp: { settings: StepUpIssuerSettings; keys: JWTVerifyGetKey } | undefined;

  constructor(
    issuers: IssuerSettings[],
    stepUp: StepUpIssuerSettings | undefined,
    private readonly clockSkewSeconds: number,
  ) {
    for (const settings of issuers) {
      this.issuers.set(settings.issuer, {
        settings,
        // jose caches the key set, refetches on an unknown kid, and rate-limits refetches (cooldown).
        keys: createRemoteJWKSet(new URL(settings.jwksUri), {
          cooldownDuration: 30_000,
          cacheMaxAge: 600_000,
        }),
      });
    }
    if (stepUp) this.stepUp = { settings: stepUp, keys: keySetOf(stepUp.jwks) };
  }

  async verify(token: string): Promise<VerifiedToken> {
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
        return toVerified('stepup', payload);
      }
      const issuer = this.issuers.get(unverifiedIssuer);
      if (!issuer) throw new TokenError('untrusted issuer');
      if (
        header.typ === STEP_UP_TOKEN_TYPE ||
        (header.typ !== undefined && !ACCESS_TOKEN_TYPES.has(header.typ))
      ) {
        throw new TokenError(`token type ${header.typ} is not an access token`);
      }
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
      return toVerified('access', payload);
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new TokenError('token expired');
      if (err instanceof errors.JOSEError) throw new TokenError(`token rejected: ${err.code}`);
      throw new TokenError('token could not be verified');
    }
  }
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
    expiresAt: p.exp!,
    tokenId: str(p.jti),
    claims: p,
  };
}

/** The token from an `Authorization: Bearer ...` header, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  return match?.[1] ?? null;
}

/** Position of an acr in the ordered levels; unknown acr values rank below everything. */
export function acrRank(levels: readonly string[], acr: string | null): number {
  return acr === null ? -1 : levels.indexOf(acr);
}
