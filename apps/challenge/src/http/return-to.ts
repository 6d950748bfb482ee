/**
 * Where a page may send the browser afterwards: a path on this origin only. Anything that a browser could
 * read as another origin (`//host`, `/\host`, a scheme) or that is not a plain URL path and query is refused.
 */
export function safeReturnTo(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return null;
  // Only what RFC 3986 allows unencoded in a path and query: no quotes, angle brackets, spaces or controls.
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+$/.test(value)) return null;
  return value;
}
