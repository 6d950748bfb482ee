// The comparable form of an HTTP URI for the DPoP `htu` check (RFC 9449 section 4.3, item 9): query and
// fragment dropped, then RFC 3986 section 6.2.2 syntax-based and 6.2.3 scheme-based normalisation.

// RFC 3986 unreserved characters: percent-encoding them is equivalent to writing them out.
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * `scheme://host[:port]/path` for an absolute http(s) URI, or null when the value is not one (relative,
 * another scheme, or carrying userinfo, which a request URI never has).
 *
 * The WHATWG URL parser does the case normalisation of scheme and host (and IDNA), drops the default port,
 * turns an empty path into `/` and removes dot segments; what it leaves is percent-encoding: hex digits are
 * upper-cased and encoded unreserved characters decoded, so `/%7euser` and `/~user` compare equal.
 */
export function normaliseHtu(value: string | URL): string | null {
  let url: URL;
  if (value instanceof URL) {
    url = value;
  } else {
    const parsed = URL.parse(value);
    if (parsed === null) return null;
    url = parsed;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username !== '' || url.password !== '') return null;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}
