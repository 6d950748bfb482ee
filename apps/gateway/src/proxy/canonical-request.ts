// One canonical view of a request for policy and upstream: the path the policy judged is the path the
// upstream receives. Pure: no Nest, no I/O.

export const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export class BadRequestPath extends Error {
  readonly code = 'invalid_path';
}

export interface CanonicalTarget {
  /** Decoded, dot segments resolved, duplicate slashes merged: what policy matches against. */
  path: string;
  /** The same path re-encoded for the upstream, plus the original query string. */
  upstreamPath: string;
  query: string;
}

/**
 * Canonicalises a request target. Rejects what different parsers disagree on instead of guessing:
 * encoded slashes and backslashes, NUL and control characters, invalid percent-encoding, and paths
 * that climb above the root.
 */
export function canonicalTarget(rawUrl: string): CanonicalTarget {
  if (!rawUrl.startsWith('/')) throw new BadRequestPath('request target must be an absolute path');
  const hash = rawUrl.indexOf('#');
  const withoutFragment = hash >= 0 ? rawUrl.slice(0, hash) : rawUrl;
  const q = withoutFragment.indexOf('?');
  const rawPath = q >= 0 ? withoutFragment.slice(0, q) : withoutFragment;
  const query = q >= 0 ? withoutFragment.slice(q) : '';
  if (/%(2f|5c|00)/i.test(rawPath)) throw new BadRequestPath('encoded slash, backslash or NUL in path');
  if (rawPath.includes('\\')) throw new BadRequestPath('backslash in path');
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw new BadRequestPath('invalid percent-encoding in path');
  }

  if (/[\u0000-\u001f\u007f]/.test(decoded)) throw new BadRequestPath('control character in path');

  if (/[\u0000-\u001f\u007f\s]/.test(query)) throw new BadRequestPath('control character in query');
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) throw new BadRequestPath('path climbs above the root');
      segments.pop();
      continue;
    }
    // Matrix parameters (`;a=b`) stay part of the segment, so policy and upstream see the same bytes; but
    // `..;x` is a dot segment to servers such as Tomcat, so it is refused rather than judged literally.
    const beforeParams = segment.split(';', 1)[0];
    if (beforeParams === '.' || beforeParams === '..')
      throw new BadRequestPath('dot segment with parameters');
    segments.push(segment);
  }
  const trailing = decoded.length > 1 && decoded.endsWith('/') && segments.length > 0 ? '/' : '';
  const path = `/${segments.join('/')}${trailing}`;
  const upstreamPath = `/${segments.map(encodeSegment).join('/')}${trailing}`;
  return { path, upstreamPath, query };
}

function encodeSegment(segment: string): string {
  // Keep the sub-delimiters RFC 3986 allows in a segment readable; encode everything else.
  return encodeURIComponent(segment).replace(/%(3B|3D|2C|40|3A|2B|24|21|27|28|29|2A)/gi, (m) =>
    decodeURIComponent(m),
  );
}

/** HEAD is judged as GET; method-override headers are removed by the proxy, never honoured. */
export function policyMethod(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}
