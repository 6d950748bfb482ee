// Which request and response headers cross the proxy. Pure.
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

// Client-supplied forwarding, identity and override headers are never believed nor passed on. Names are
// compared with underscores as dashes, because some upstream servers treat them the same.
const SPOOFABLE_EXACT = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-cluster-client-ip',
  'remote-user',
  'x-remote-user',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
  'x-original-method',
  'x-correlation-id',
]);
const SPOOFABLE_PREFIXES = ['x-forwarded-', 'x-stepgate-', 'x-auth-', 'x-user', 'x-remote-', 'x-email'];

export function isSpoofable(name: string): boolean {
  const n = name.toLowerCase().replaceAll('_', '-');
  return SPOOFABLE_EXACT.has(n) || SPOOFABLE_PREFIXES.some((p) => n.startsWith(p));
}

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const c = headers.connection;
  return new Set(
    (typeof c === 'string' ? c : '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

export interface ForwardContext {
  clientIp: string;
  /** Canonical host (with a non-default port) for X-Forwarded-Host. */
  host: string;
  proto: 'http' | 'https';
  correlationId: string;
  /** Headers the gateway sets itself (the identity assertion; for browsers, the challenge service's bearer). */
  set?: Record<string, string>;
}

/** StepGate's own cookies (session, login, device) stay between the browser and the gateway. */
const STEPGATE_COOKIE = /^\s*__Host-stepgate-/;

function withoutStepgateCookies(cookie: string | string[]): string | undefined {
  const kept = (Array.isArray(cookie) ? cookie.join('; ') : cookie)
    .split(';')
    .filter((c) => c.trim() !== '' && !STEPGATE_COOKIE.test(c))
    .map((c) => c.trim());
  return kept.length > 0 ? kept.join('; ') : undefined;
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  ctx: ForwardContext,
): Record<string, string | string[]> {
  const listed = connectionListed(incoming);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || isSpoofable(name)) continue;
    if (name === 'cookie') {
      const kept = withoutStepgateCookies(value);
      if (kept !== undefined) out.cookie = kept;
      continue;
    }
    out[name] = value;
  }
  // Set by the gateway, never appended to what the client claimed.
  out['x-forwarded-for'] = ctx.clientIp;
  out['x-forwarded-host'] = ctx.host;
  out['x-forwarded-proto'] = ctx.proto;
  out['x-correlation-id'] = ctx.correlationId;
  if (ctx.set) for (const [name, value] of Object.entries(ctx.set)) out[name] = value;
  return out;
}

export function downstreamResponseHeaders(
  incoming: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const listed = new Set(
    String(incoming.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (name === 'set-cookie') {
      // An upstream may set its own cookies, never StepGate's session or device cookie.
      const kept = (Array.isArray(value) ? value : [value]).filter((c) => !/^\s*__Host-stepgate-/i.test(c));
      if (kept.length > 0) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** Drops method-override parameters from a query string (`?_method=DELETE`): the method is the request's. */
export function stripOverrideParams(query: string): string {
  if (!/[?&](_method|x-http-method-override)=/i.test(query)) return query;
  const params = new URLSearchParams(query.slice(1));
  for (const name of [...params.keys()]) {
    if (/^(_method|x-http-method-override)$/i.test(name)) params.delete(name);
  }
  const rest = params.toString();
  return rest ? `?${rest}` : '';
}
