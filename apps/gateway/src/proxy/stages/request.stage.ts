// The first stage: the method, headers, target and Host a request is judged on, canonicalised once, or the
// answer to a request the gateway does not take (405, 400, 413).
import { safeReturnTo } from '@stepgate/redirect';
import { wantsHtml } from '../../auth/request-identity';
import {
  ALLOWED_METHODS,
  BadRequestPath,
  canonicalHost,
  canonicalTarget,
  withoutPrefix,
  type CanonicalHost,
  type CanonicalTarget,
} from '../canonical-request';
import { stripOverrideParams } from '../forward-headers';
import { BadRequestHeader, checkRequestHeaders } from '../request-headers';
import type { ForwardRequest } from '../upstream.forwarder';
import { respond, type RequestContext, type Stop } from './judgement';

/** A request the gateway takes: what every later stage reads. */
export interface GatewayRequest {
  readonly method: string;
  readonly target: CanonicalTarget;
  readonly host: CanonicalHost;
  /** A browser navigation (never an upgrade): answered with redirects and pages rather than JSON. */
  readonly html: boolean;
  readonly upgrade: boolean;
  readonly maxBodyBytes: number;
}

const ALLOWED = new Set<string>(ALLOWED_METHODS);
export const ALLOW_HEADER = ALLOWED_METHODS.join(', ');

export function readRequest(
  ctx: RequestContext,
  upgrade: boolean,
  maxBodyBytes: number,
): GatewayRequest | Stop {
  const raw = ctx.raw;
  const method = String(raw.method);
  if (!ALLOWED.has(method)) {
    return {
      stop: respond(
        405,
        { error: 'method_not_allowed', message: `${method} is not accepted` },
        { allow: ALLOW_HEADER },
      ),
      facts: { reason: 'method_not_allowed' },
    };
  }
  let target: CanonicalTarget;
  try {
    checkRequestHeaders(raw.rawHeaders);
    target = canonicalTarget(raw.url ?? '/');
  } catch (err) {
    if (err instanceof BadRequestHeader || err instanceof BadRequestPath) return badRequest(err, {});
    throw err;
  }
  const host = canonicalHost(raw.headers.host, ctx.proto);
  if (!host) return badRequest(new BadRequestPath('missing or invalid Host header'), { path: target.path });
  const facts = { path: target.path, host: host.hostname };
  const declared = raw.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBodyBytes) {
    return {
      stop: respond(
        413,
        { error: 'payload_too_large', message: `request body larger than ${maxBodyBytes} bytes` },
        { connection: 'close' },
      ),
      facts: { ...facts, reason: 'body_too_large' },
    };
  }
  return { method, target, host, html: !upgrade && wantsHtml(raw.headers), upgrade, maxBodyBytes };
}

/** A request the gateway cannot read as one meaning: 400, and the code says which rule it broke. */
export function badRequest(
  err: BadRequestPath | BadRequestHeader | { code: string; message: string },
  facts: { path?: string; host?: string },
): Stop {
  return {
    stop: respond(400, { error: 'invalid_request', message: err.message }),
    facts: { ...facts, reason: err.code },
  };
}

/** The request as it goes to an upstream: the canonical path (less the route's prefix) and what to set. */
export function forwardTo(
  ctx: RequestContext,
  req: GatewayRequest,
  upstream: string,
  set?: Record<string, string>,
  prefix?: string,
): ForwardRequest {
  const forwardCtx = {
    clientIp: ctx.clientIp,
    host: req.host.authority,
    proto: ctx.proto,
    correlationId: ctx.correlationId,
  };
  return {
    upstream,
    method: req.method,
    pathAndQuery: withoutPrefix(req.target.upstreamPath, prefix) + stripOverrideParams(req.target.query),
    req: ctx.raw,
    ctx: set ? { ...forwardCtx, set } : forwardCtx,
    maxBodyBytes: req.maxBodyBytes,
  };
}

/**
 * Where a browser is sent back to after signing in or stepping up: this request's path and query. The path is
 * canonical already; characters a browser leaves raw in a query (`filter[x]=1`, non-ASCII) are
 * percent-encoded, since the one return_to rule (libs/redirect) refuses them raw. Anything else it refuses
 * sends the browser to the root.
 */
export function returnToOf(req: GatewayRequest): string {
  const query = req.target.query.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+/gu, (raw) =>
    encodeURIComponent(raw),
  );
  return safeReturnTo(req.target.upstreamPath + query) ?? '/';
}
