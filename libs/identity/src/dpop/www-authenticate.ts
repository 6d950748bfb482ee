// Builds one `WWW-Authenticate` challenge (RFC 9110 section 11.6.1) for Bearer (RFC 6750) or DPoP
// (RFC 9449 section 7.1) answers. Values are quoted so nothing can end the quoted string or the header.
import type { DpopError } from './dpop.errors';

export interface ChallengeParams {
  scheme: 'Bearer' | 'DPoP';
  /** Default `stepgate`. */
  realm?: string;
  /** An RFC 6749 error code such as `invalid_token` or `use_dpop_nonce`. */
  error?: string;
  errorDescription?: string;
  /** DPoP only: the algorithms the server accepts for proofs. */
  algs?: readonly string[];
  scope?: string;
}

// RFC 6749 appendix A.7: error = 1*NQSCHAR without `"` and `\`; we refuse anything else outright.
const ERROR_CODE = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;
const ALG = /^[A-Za-z0-9._-]+$/;
const MAX_VALUE_LENGTH = 200;

export function wwwAuthenticate(params: ChallengeParams): string {
  const parts = [`realm=${quoted(params.realm ?? 'stepgate')}`];
  if (params.error !== undefined) {
    if (!ERROR_CODE.test(params.error)) throw new TypeError('error must be an RFC 6749 error code');
    parts.push(`error=${quoted(params.error)}`);
  }
  if (params.errorDescription !== undefined)
    parts.push(`error_description=${quoted(params.errorDescription)}`);
  if (params.scope !== undefined) parts.push(`scope=${quoted(params.scope)}`);
  if (params.scheme === 'DPoP' && params.algs !== undefined && params.algs.length > 0) {
    if (!params.algs.every((a) => ALG.test(a))) throw new TypeError('algs must be JWS algorithm names');
    parts.push(`algs=${quoted(params.algs.join(' '))}`);
  }
  return `${params.scheme} ${parts.join(', ')}`;
}

/** The DPoP challenge answering a DpopError (or a request that brought no credentials at all). */
export function dpopChallenge(error: DpopError | undefined, algs: readonly string[]): string {
  return wwwAuthenticate({
    scheme: 'DPoP',
    error: error?.code,
    errorDescription: error?.message,
    algs,
  });
}

/**
 * An RFC 9110 quoted-string: only visible ASCII and space survive (control characters, CR/LF and non-ASCII
 * are dropped, so no header can be split or smuggled), backslash and double quote are escaped, and the
 * length is capped.
 */
function quoted(value: string): string {
  const clean = value.replace(/[^\x20-\x7E]/g, '').slice(0, MAX_VALUE_LENGTH);
  return `"${clean.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
