// One canonical view of a request for policy and upstream: the path the policy judged is the path the
// upstream receives. Pure: no Nest, no I/O.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

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
    // Matrix parameters (`;a=b`) are where servers disagree: Tomcat and Spring serve `/payments;x/1` as
    // `/payments/1` and `..;` as `..`, while policy would judge the literal segment. Refused, not guessed.
    if (segment.includes(';')) throw new BadRequestPath('matrix parameters (;) are not accepted in paths');
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

export interface CanonicalHost {
  /** Lowercase ASCII (IDNA) host name or bracketed IPv6 literal, no trailing dot, no port: what routes match. */
  hostname: string;
  /** hostname plus the port when it is not the scheme's default: what X-Forwarded-Host carries. */
  authority: string;
}

/**
 * Canonicalises a Host header: lowercase, IDNA (punycode) via the WHATWG rules, trailing dot and default
 * port removed. Null when it is not a plausible host (userinfo, paths, bad ports, invalid labels).
 */
export function canonicalHost(
  raw: string | undefined,
  scheme: 'http' | 'https' = 'http',
): CanonicalHost | null {
  if (raw === undefined) return null;
  const value = raw.trim();
  if (value.length === 0 || value.length > 300 || /[\s/\\@?#%]/.test(value)) return null;
  let host: string;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return null;
    host = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return null;
    port = rest === '' ? undefined : rest.slice(1);
    if (isIP(host) !== 6) return null;
    host = `[${host.toLowerCase()}]`;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon >= 0) {
      if (value.indexOf(':') !== colon) return null; // an IPv6 literal must be bracketed
      port = value.slice(colon + 1);
      host = value.slice(0, colon);
    } else host = value;
    if (host.endsWith('.')) host = host.slice(0, -1);
    const ascii = domainToASCII(host);
    if (!ascii || ascii.length > 253 || !/^[a-z0-9.-]+$/.test(ascii) || ascii.split('.').some((l) => !l))
      return null;
    host = ascii;
  }
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535 || Number(port) === 0) return null;
    port = String(Number(port));
  }
  const defaultPort = scheme === 'https' ? '443' : '80';
  const authority = port === undefined || port === defaultPort ? host : `${host}:${port}`;
  return { hostname: host, authority };
}

/** The path the upstream sees: `prefix` (whole segments, as the config checks) taken off the front. */
export function withoutPrefix(path: string, prefix: string | undefined): string {
  if (!prefix) return path;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}
