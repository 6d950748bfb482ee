// Verifies a DPoP proof JWT (RFC 9449 section 4.3) for one request: syntax, header, key, signature, claims,
// optional server nonce and single use. The key comes from the proof itself by design; what makes it
// trustworthy is the access token's `cnf.jkt`, which the caller compares (`assertBoundTo`).
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, importJWK, type JWK } from 'jose';
import { DpopError, ReplayStoreUnavailableError } from './dpop.errors';
import { normaliseHtu } from './htu';
import { replayKeyOf, type DpopReplayStore } from './replay.store';

/** Every algorithm this verifier can be configured with: asymmetric only, never `none` or HS*. */
export const DPOP_SUPPORTED_ALGORITHMS: readonly string[] = Object.freeze([
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
]);

/** `Ed25519` is the fully-specified name of EdDSA over Ed25519 (the `dpop` client library sends it). */
export const DPOP_DEFAULT_ALGORITHMS: readonly string[] = Object.freeze([
  'ES256',
  'EdDSA',
  'Ed25519',
  'PS256',
  'RS256',
]);

export const DPOP_DEFAULTS = Object.freeze({
  maxAgeSeconds: 60,
  clockSkewSeconds: 5,
  /** An RSA-4096 proof is about 2 KB; anything much larger is refused before it is decoded. */
  maxProofLength: 4096,
});

export const MAX_JTI_LENGTH = 256;

/** What checks a nonce; `DpopNonces` is the stateless implementation. */
export interface DpopNonceChecker {
  check(nonce: string): boolean;
}

export interface DpopProofOptions {
  /** The request method as received (`GET`, ...); compared exactly with `htm`. */
  method: string;
  /**
   * The request's URL as the client addressed it: the gateway's public origin and the request path as
   * received. Query and fragment are ignored.
   */
  url: string | URL;
  /** The access token presented with the proof, if any: the proof's `ath` must then match it. */
  accessToken?: string;
  /** Allowed `alg` values, a subset of DPOP_SUPPORTED_ALGORITHMS (default DPOP_DEFAULT_ALGORITHMS). */
  algorithms?: readonly string[];
  /** How old `iat` may be (default 60 s). */
  maxAgeSeconds?: number;
  /** How far ahead of our clock `iat` may be (default 5 s). */
  clockSkewSeconds?: number;
  /** Default 4096 characters. */
  maxProofLength?: number;
  /** When set, the proof must carry a nonce this accepts, else `use_dpop_nonce`. */
  nonce?: DpopNonceChecker;
  /**
   * When set, the proof's jti is claimed once every other check has passed: a replay is refused with
   * `invalid_dpop_proof`, and a store that cannot answer throws ReplayStoreUnavailableError.
   */
  replay?: DpopReplayStore;
  /** Seconds since the epoch (default: now). */
  now?: number;
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: compare with the token's `cnf.jkt`. */
  jkt: string;
  jti: string;
  iat: number;
  alg: string;
  /** The proof's public key, reduced to its public members. */
  jwk: JWK;
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
// Members that make a JWK private (or symmetric): a proof carrying one is refused outright.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const invalid = (message: string): DpopError => new DpopError('invalid_dpop_proof', message);

/**
 * Verifies the DPoP header of one request. `proof` is the header as received: a repeated header (an array
 * with more than one value, or Node's comma-joined form) is refused. Throws DpopError, or
 * ReplayStoreUnavailableError from the replay store.
 */
export async function verifyDpopProof(
  proof: string | readonly string[] | undefined,
  options: DpopProofOptions,
): Promise<VerifiedDpopProof> {
  const maxAge = options.maxAgeSeconds ?? DPOP_DEFAULTS.maxAgeSeconds;
  const skew = options.clockSkewSeconds ?? DPOP_DEFAULTS.clockSkewSeconds;
  const now = options.now ?? Date.now() / 1000;

  const raw = singleValue(proof);
  if (raw.length > (options.maxProofLength ?? DPOP_DEFAULTS.maxProofLength))
    throw invalid('DPoP proof is too large');
  if (!JWS_COMPACT.test(raw)) throw invalid('DPoP proof is not a well-formed JWT');
  const [encodedHeader, encodedPayload] = raw.split('.') as [string, string, string];
  const header = jsonObjectOf(encodedHeader);
  const payload = jsonObjectOf(encodedPayload);

  // Header: RFC 9449 section 4.3, items 4 to 7.
  if (typeof header.typ !== 'string' || normaliseTyp(header.typ) !== 'dpop+jwt')
    throw invalid('DPoP proof typ must be dpop+jwt');
  const alg = header.alg;
  const allowed = options.algorithms ?? DPOP_DEFAULT_ALGORITHMS;
  // Both lists: a misconfigured allowlist naming `none` or HS256 still admits neither.
  if (typeof alg !== 'string' || !allowed.includes(alg) || !DPOP_SUPPORTED_ALGORITHMS.includes(alg))
    throw invalid('DPoP proof alg is not allowed');
  const jwk = publicJwkOf(header.jwk);

  // Claims before the signature: they are cheap, and a proof failing them is refused either way.
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    throw invalid('DPoP proof jti is missing or too long');
  if (typeof payload.htm !== 'string' || payload.htm !== options.method)
    throw invalid('DPoP proof htm does not match the request method');
  const requestUri = normaliseHtu(options.url);
  if (requestUri === null) throw new TypeError('options.url must be an absolute http(s) URL');
  if (typeof payload.htu !== 'string' || normaliseHtu(payload.htu) !== requestUri)
    throw invalid('DPoP proof htu does not match the request URL');
  const iat = payload.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('DPoP proof has no valid iat');
  if (iat < now - maxAge || iat > now + skew) throw invalid('DPoP proof iat is outside the accepted window');
  if (options.accessToken !== undefined) {
    if (typeof payload.ath !== 'string') throw invalid('DPoP proof has no ath for the access token');
    if (payload.ath !== accessTokenHash(options.accessToken))
      throw invalid('DPoP proof ath does not match the access token');
  }

  try {
    const key = await importJWK(jwk, alg);
    await compactVerify(raw, key, { algorithms: [alg] });
  } catch {
    throw invalid('DPoP proof signature is invalid');
  }

  // Last among the checks: an otherwise bad proof gets invalid_dpop_proof, not a nonce it could not use.
  if (options.nonce) {
    if (typeof payload.nonce !== 'string' || !options.nonce.check(payload.nonce))
      throw new DpopError('use_dpop_nonce', 'DPoP proof requires a fresh server nonce');
  }

  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  if (options.replay) {
    // Kept until no instance would accept the proof any more, with the skew as margin for their clocks.
    const expiresAt = Math.ceil(iat) + maxAge + skew;
    let first: boolean;
    try {
      first = await options.replay.claim(replayKeyOf(jkt, jti), expiresAt);
    } catch (err) {
      if (err instanceof ReplayStoreUnavailableError) throw err;
      throw new ReplayStoreUnavailableError('DPoP replay store failed', { cause: err });
    }
    if (!first) throw invalid('DPoP proof has already been used');
  }
  return { jkt, jti, iat, alg, jwk };
}

/**
 * Refuses a DPoP-bound request whose token is not bound to the proof's key (or not bound at all: the DPoP
 * scheme with an unbound token is refused too). Thumbprints are public, so a plain comparison is fine.
 */
export function assertBoundTo(tokenJkt: string | null, proofJkt: string): void {
  if (tokenJkt === null) throw new DpopError('invalid_token', 'access token is not bound to a DPoP key');
  if (tokenJkt !== proofJkt)
    throw new DpopError('invalid_token', 'access token is bound to another DPoP key');
}

/** base64url(SHA-256(token)): the `ath` claim of a proof presented with that token. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'utf8').digest('base64url');
}

function singleValue(proof: string | readonly string[] | undefined): string {
  let value: string | undefined;
  if (typeof proof === 'string') value = proof;
  else if (proof !== undefined) {
    if (proof.length > 1) throw invalid('more than one DPoP proof');
    value = proof[0];
  }
  if (value === undefined || value.length === 0) throw invalid('DPoP proof is missing');
  // Node joins a repeated DPoP header with ", "; a JWT has no comma.
  if (value.includes(',')) throw invalid('more than one DPoP proof');
  return value;
}

function jsonObjectOf(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw invalid('DPoP proof is not a well-formed JWT');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('DPoP proof is not a well-formed JWT');
  return value as Record<string, unknown>;
}

/** The public members of the proof's `jwk` header, or a refusal when it is missing or private. */
function publicJwkOf(value: unknown): JWK {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('DPoP proof has no jwk header');
  const jwk = value as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw invalid('DPoP proof jwk must be a public key');
  const strings = (...names: string[]): boolean => names.every((n) => typeof jwk[n] === 'string');
  switch (jwk.kty) {
    case 'EC':
      if (strings('crv', 'x', 'y'))
        return { kty: 'EC', crv: jwk.crv as string, x: jwk.x as string, y: jwk.y as string };
      break;
    case 'OKP':
      if (strings('crv', 'x')) return { kty: 'OKP', crv: jwk.crv as string, x: jwk.x as string };
      break;
    case 'RSA':
      if (strings('n', 'e')) return { kty: 'RSA', n: jwk.n as string, e: jwk.e as string };
      break;
  }
  throw invalid('DPoP proof jwk is not a usable public key');
}

/** `typ` compares case-insensitively and without the `application/` prefix (RFC 7515 section 4.1.9). */
function normaliseTyp(typ: string): string {
  return typ.toLowerCase().replace(/^application\//, '');
}
