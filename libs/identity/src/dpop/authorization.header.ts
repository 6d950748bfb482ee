// Parses the Authorization header into the two schemes the gateway verifies (RFC 6750 Bearer, RFC 9449 DPoP).
import { DpopError } from './dpop.errors';

export type AuthorizationScheme = 'bearer' | 'dpop';

export interface Authorization {
  scheme: AuthorizationScheme;
  token: string;
}

/** Longer than any access token we accept; refused before any other work. */
export const MAX_AUTHORIZATION_LENGTH = 8192;

// RFC 7235 token68: the only credentials syntax RFC 6750 and RFC 9449 allow.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 9110 token: what an auth-scheme is made of.
const TOKEN = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;

/**
 * The credentials of an `Authorization` header: null when there is none or it uses another scheme (Basic,
 * ...), which is not ours to judge; a `DpopError('invalid_request')` when the header has no scheme, when a
 * Bearer or DPoP value is not exactly `<scheme> SP token68`, or when the header is given more than once.
 *
 * Pass every value the request carried (Node's `req.headersDistinct.authorization`): `req.headers` keeps only
 * the first of repeated Authorization headers, which would hide the duplicate.
 */
export function authorizationOf(header: string | readonly string[] | undefined): Authorization | null {
  if (header === undefined) return null;
  let value: string;
  if (typeof header === 'string') {
    value = header;
  } else {
    if (header.length === 0) return null;
    if (header.length > 1) throw new DpopError('invalid_request', 'more than one Authorization header');
    value = header[0]!;
  }
  if (value.length > MAX_AUTHORIZATION_LENGTH)
    throw new DpopError('invalid_request', 'Authorization header is too long');
  const space = value.indexOf(' ');
  const scheme = (space === -1 ? value : value.slice(0, space)).toLowerCase();
  // Not even a scheme (empty, or `Bearer\tabc`): malformed whatever the scheme was meant to be.
  if (!TOKEN.test(scheme)) throw new DpopError('invalid_request', 'malformed Authorization header');
  if (scheme !== 'bearer' && scheme !== 'dpop') return null;
  const token = space === -1 ? '' : value.slice(space + 1);
  if (!TOKEN68.test(token)) throw new DpopError('invalid_request', 'malformed Authorization header');
  return { scheme, token };
}
