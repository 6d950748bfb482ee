import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isStop, type RequestContext } from './judgement';
import { forwardTo, readRequest, returnToOf, type GatewayRequest } from './request.stage';

function ctx(
  method: string,
  url: string,
  headers: Record<string, string>,
  proto: 'http' | 'https' = 'http',
): RequestContext {
  const raw = new IncomingMessage(new Socket());
  raw.method = method;
  raw.url = url;
  raw.headers = headers;
  raw.rawHeaders = Object.entries(headers).flat();
  return { raw, correlationId: 'c1', clientIp: '203.0.113.7', proto, started: 0 };
}

const LIMIT = 1024;

describe(readRequest.name, () => {
  it('reads the canonical method, target and Host of a request it takes', () => {
    const req = readRequest(ctx('GET', '/api//reports/./1?x=1', { host: 'App.Example:80' }), false, LIMIT);
    expect(isStop(req)).toBe(false);
    expect(req).toMatchObject({
      method: 'GET',
      target: { path: '/api/reports/1', query: '?x=1' },
      host: { hostname: 'app.example', authority: 'app.example' },
      html: false,
      upgrade: false,
    });
  });

  it('answers 405 with Allow to a method it does not proxy, before reading anything else', () => {
    const stop = readRequest(ctx('TRACE', '/%zz', {}), false, LIMIT);
    expect(stop).toMatchObject({
      stop: { status: 405, headers: { allow: expect.stringContaining('GET') } },
      facts: { reason: 'method_not_allowed' },
    });
  });

  it('answers 400 with the rule broken, and records the path when only the Host is wrong', () => {
    expect(readRequest(ctx('GET', '/a/%2f/b', { host: 'a.example' }), false, LIMIT)).toMatchObject({
      stop: { status: 400, body: { error: 'invalid_request' } },
      facts: { reason: 'invalid_path' },
    });
    const badHost = readRequest(ctx('GET', '/a', { host: 'user@a.example' }), false, LIMIT);
    expect(badHost).toMatchObject({ stop: { status: 400 }, facts: { reason: 'invalid_path', path: '/a' } });
  });

  it('answers 413 with Connection: close to a declared body over the limit, knowing the path and host', () => {
    const stop = readRequest(
      ctx('POST', '/upload', { host: 'a.example', 'content-length': String(LIMIT + 1) }),
      false,
      LIMIT,
    );
    expect(stop).toMatchObject({
      stop: { status: 413, headers: { connection: 'close' } },
      facts: { reason: 'body_too_large', path: '/upload', host: 'a.example' },
    });
  });

  it('treats a browser navigation as HTML, never an upgrade', () => {
    const headers = { host: 'a.example', accept: 'text/html,application/xhtml+xml' };
    expect(readRequest(ctx('GET', '/', headers), false, LIMIT)).toMatchObject({ html: true });
    expect(readRequest(ctx('GET', '/', headers), true, LIMIT)).toMatchObject({ html: false, upgrade: true });
  });
});

describe(forwardTo.name, () => {
  it("sends the canonical path less the route's prefix, without method-override parameters", () => {
    const c = ctx('GET', '/svc/b/items?_method=DELETE&x=1', { host: 'a.example:8080' }, 'https');
    const req = readRequest(c, false, LIMIT) as GatewayRequest;
    const f = forwardTo(c, req, 'second', { 'x-set': '1' }, '/svc/b');
    expect(f).toMatchObject({
      upstream: 'second',
      method: 'GET',
      pathAndQuery: '/items?x=1',
      maxBodyBytes: LIMIT,
      ctx: {
        clientIp: '203.0.113.7',
        host: 'a.example:8080',
        proto: 'https',
        correlationId: 'c1',
        set: { 'x-set': '1' },
      },
    });
  });
});

describe(returnToOf.name, () => {
  const of = (url: string) =>
    returnToOf(readRequest(ctx('GET', url, { host: 'a.example' }), false, LIMIT) as GatewayRequest);

  it('sends a browser back to the path and query it asked for, with what browsers leave raw encoded', () => {
    expect(of('/reports?filter[x]=1&q=caf\u00e9')).toBe('/reports?filter%5Bx%5D=1&q=caf%C3%A9');
    expect(of('/a/b?x=1')).toBe('/a/b?x=1');
  });

  it('sends it to the root when the one return_to rule refuses what is left', () => {
    expect(of('/reports?q=%zz')).toBe('/');
  });
});
