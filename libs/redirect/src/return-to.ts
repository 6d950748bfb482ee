// Where a browser may be sent back to (`return_to`): a path on this origin only. One rule for the gateway
// (sign-in, sign-out, the challenge redirect) and the challenge pages, checked when a return_to comes in and
// again before any redirect goes out. Pure.

const BASE = 'http://stepgate.invalid';

/** What RFC 3986 allows unencoded in a path, query and fragment: no quotes, angle brackets, spaces, controls. */
const URI_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]+$/;

/**
 * The same-origin path and query to return to (dot segments resolved, fragment dropped), or null. Refuses
 * anything a browser could read as another origin: a scheme, scheme-relative `//host`, backslashes (`/\host`
 * is `//host` to browsers), and anything that does not start with one `/`. Refuses too what another decoder
 * could turn into one: slashes, backslashes, percent signs and control characters encoded in the path
 * (`/%2F%2Fhost`, `/%252F%252Fhost` decoded twice), a `%` that starts no escape, and any character RFC 3986
 * does not allow unencoded (quotes and angle brackets, whitespace, controls, raw non-ASCII), which a page or
 * a Location header could read as something else.
 */
export function safeReturnTo(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return null;
  if (!value.startsWith('/') || value.startsWith('//')) return null;
  if (!URI_CHARACTERS.test(value) || /%(?![0-9A-Fa-f]{2})/.test(value)) return null;
  const path = value.split(/[?#]/, 1)[0]!;
  if (/%(2f|5c|25|[01][0-9a-f]|7f)/i.test(path)) return null;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return null;
  }
  // Dot segments can leave `//` at the start (`/..//host`), which the parser keeps as a path.
  if (url.origin !== BASE || url.pathname.startsWith('//')) return null;
  return url.pathname + url.search;
}

/** A safe return_to or the root. */
export function returnToOrRoot(value: unknown): string {
  return safeReturnTo(value) ?? '/';
}
