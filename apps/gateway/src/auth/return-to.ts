// Where a browser may be sent back to: only a path on this origin. Checked when a return_to comes in
// (login, challenge verification) and again before any redirect goes out. Pure.

const BASE = 'http://stepgate.invalid';

/**
 * The same-origin path and query to return to, or null. Refuses anything a browser could read as another
 * origin: scheme-relative `//host`, backslashes (`/\host` is `//host` to browsers), encoded slashes and
 * backslashes in the path, control characters and whitespace, and anything that does not start with one `/`.
 */
export function safeReturnTo(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return null;
  if (!value.startsWith('/') || value.startsWith('//')) return null;
  if (/[\\\u0000-\u0020\u007f]/.test(value)) return null;
  const path = value.split('?', 1)[0]!;
  if (/%(2f|5c|00|09|0a|0d)/i.test(path)) return null;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return null;
  }
  if (url.origin !== BASE || url.pathname.startsWith('//')) return null;
  return url.pathname + url.search;
}

/** A safe return_to or the root. */
export function returnToOrRoot(value: unknown): string {
  return safeReturnTo(value) ?? '/';
}
