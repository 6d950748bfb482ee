// Streams a request to an upstream over a keep-alive pool and streams the answer back; buffers the answer
// only where the gateway must read it (challenge verification for browsers); pipes WebSocket upgrades.
import {
  request as httpRequest,
  STATUS_CODES,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { errors, Pool } from 'undici';
import { GATEWAY_CONFIG, type GatewayConfig, type UpstreamConfig } from '../config';
import {
  compileHeaderPolicy,
  downstreamResponseHeaders,
  isStepGateCookie,
  upstreamRequestHeaders,
  type CompiledHeaderRules,
  type ForwardContext,
} from './forward-headers';

export const CHALLENGE_UPSTREAM = 'stepgate.challenge';

interface Upstream {
  url: URL;
  pool: Pool;
  basePath: string;
  timeoutMs: number;
  headers: CompiledHeaderRules;
}

export class BodyTooLarge extends Error {
  readonly code = 'body_too_large';
}

export interface ForwardRequest {
  upstream: string;
  method: string;
  pathAndQuery: string;
  req: IncomingMessage;
  ctx: ForwardContext;
  maxBodyBytes: number;
}

export interface Exchanged {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

@Injectable()
export class UpstreamForwarder implements OnApplicationShutdown {
  private readonly upstreams = new Map<string, Upstream>();

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    const entries: [string, UpstreamConfig][] = [
      ...Object.entries(config.gateway.upstreams),
      // The challenge service verifies the bearer itself.
      [CHALLENGE_UPSTREAM, { url: config.gateway.challenge.url, timeoutMs: 10_000, passAuthorization: true }],
    ];
    for (const [name, u] of entries) {
      const url = new URL(u.url);
      this.upstreams.set(name, {
        url,
        pool: new Pool(url.origin, { connections: 128, keepAliveTimeout: 30_000 }),
        basePath: url.pathname.replace(/\/$/, ''),
        timeoutMs: u.timeoutMs,
        headers: compileHeaderPolicy({
          passAuthorization: u.passAuthorization,
          strip: u.stripHeaders,
          allow: u.forwardHeaders?.mode === 'allowlist' ? u.forwardHeaders.allow : undefined,
        }),
      });
    }
  }

  private headersFor(
    upstream: Upstream,
    incoming: IncomingHttpHeaders,
    ctx: ForwardContext,
  ): Record<string, string | string[]> {
    return upstreamRequestHeaders(incoming, ctx, upstream.headers);
  }

  /** Resolves with the status sent to the client once the answer has started streaming. */
  async forward(f: ForwardRequest, reply: FastifyReply): Promise<number> {
    try {
      const res = await this.send(f);
      void reply.code(res.statusCode).headers(downstreamResponseHeaders(res.headers)).send(res.body);
      return res.statusCode;
    } catch (err) {
      const { status, body } = failure(err, f.upstream);
      // The rest of an oversized body is not worth reading: close the connection after answering.
      if (status === 413) void reply.header('connection', 'close');
      void reply.code(status).send(body);
      return status;
    }
  }

  /** The whole answer, read into memory (at most maxResponseBytes), for the gateway to inspect. */
  async exchange(f: ForwardRequest, maxResponseBytes = 65_536): Promise<Exchanged> {
    try {
      const res = await this.send(f);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxResponseBytes) {
          res.body.destroy();
          throw new Error('upstream answer too large to inspect');
        }
        chunks.push(chunk);
      }
      return {
        status: res.statusCode,
        headers: downstreamResponseHeaders(res.headers),
        body: Buffer.concat(chunks),
      };
    } catch (err) {
      const { status, body } = failure(err, f.upstream);
      return {
        status,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(body)),
      };
    }
  }

  /**
   * Pipes an upgrade (WebSocket) to the upstream; resolves with the status the client got. `own` are the
   * gateway's headers for the answer (its correlation id, the cookies it set), added to the upstream's, whose
   * StepGate cookies are dropped as on every other answer.
   */
  upgrade(
    f: ForwardRequest,
    socket: Duplex,
    head: Buffer,
    own: Record<string, string | string[]> = {},
  ): Promise<number> {
    const upstream = this.resolve(f.upstream);
    const headers = this.headersFor(upstream, f.req.headers, f.ctx);
    headers.connection = 'Upgrade';
    headers.upgrade = String(f.req.headers.upgrade);
    const request = upstream.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const out = request({
      protocol: upstream.url.protocol,
      hostname: upstream.url.hostname,
      port: upstream.url.port,
      path: upstream.basePath + f.pathAndQuery,
      method: 'GET',
      headers,
      timeout: upstream.timeoutMs,
    });
    return new Promise<number>((resolve) => {
      out.on('upgrade', (res, upSocket, upHead) => {
        const lines = [`HTTP/1.1 101 ${STATUS_CODES[101]}`];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const [name, value] = [res.rawHeaders[i]!, res.rawHeaders[i + 1]!];
          const lower = name.toLowerCase();
          // The upstream may set its own cookies, never StepGate's; the gateway's own headers win.
          if (lower === 'set-cookie' ? isStepGateCookie(value) : lower in own) continue;
          lines.push(`${name}: ${value}`);
        }
        for (const [name, value] of Object.entries(own))
          for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (upHead.length > 0) socket.write(upHead);
        if (head.length > 0) upSocket.write(head);
        const close = (): void => {
          socket.destroy();
          upSocket.destroy();
        };
        socket.on('error', close).on('close', close);
        upSocket.on('error', close).on('close', close);
        upSocket.pipe(socket).pipe(upSocket);
        resolve(101);
      });
      out.on('response', (res) => {
        // The upstream refused the upgrade: relay its answer.
        const status = res.statusCode ?? 502;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
        res.on('end', () => {
          writeRawResponse(
            socket,
            status,
            withOwn(downstreamResponseHeaders(res.headers), own),
            Buffer.concat(chunks),
          );
          resolve(status);
        });
      });
      out.on('timeout', () => out.destroy(new Error('upstream timeout')));
      out.on('error', (err) => {
        const { status, body } = failure(err, f.upstream);
        writeRawResponse(
          socket,
          status,
          withOwn({ 'content-type': 'application/json' }, own),
          Buffer.from(JSON.stringify(body)),
        );
        resolve(status);
      });
      out.end();
    });
  }

  private resolve(name: string): Upstream {
    const upstream = this.upstreams.get(name);
    if (!upstream) throw new Error(`unknown upstream ${name}`);
    return upstream;
  }

  private send(f: ForwardRequest): ReturnType<Pool['request']> {
    const upstream = this.resolve(f.upstream);
    const h = f.req.headers;
    const hasBody =
      h['content-length'] !== undefined ? h['content-length'] !== '0' : h['transfer-encoding'] !== undefined;
    return upstream.pool.request({
      path: upstream.basePath + f.pathAndQuery,
      method: f.method,
      headers: this.headersFor(upstream, h, f.ctx),
      // A declared length was checked against the limit already; a chunked body is counted as it streams.
      body: hasBody
        ? h['content-length'] !== undefined
          ? f.req
          : Readable.from(limited(f.req, f.maxBodyBytes), { objectMode: false })
        : null,
      headersTimeout: upstream.timeoutMs,
      bodyTimeout: upstream.timeoutMs,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.upstreams.values()].map((u) => u.pool.close()));
  }
}

async function* limited(source: AsyncIterable<Buffer>, max: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > max) throw new BodyTooLarge(`request body larger than ${max} bytes`);
    yield chunk;
  }
}

function failure(err: unknown, name: string): { status: number; body: Record<string, string> } {
  if (err instanceof BodyTooLarge || (err instanceof Error && err.cause instanceof BodyTooLarge))
    return { status: 413, body: { error: 'payload_too_large', message: err.message } };
  const timedOut =
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    (err instanceof Error && err.message === 'upstream timeout');
  return timedOut
    ? { status: 504, body: { error: 'upstream_timeout', message: `upstream ${name} timed out` } }
    : { status: 502, body: { error: 'bad_gateway', message: `upstream ${name} failed` } };
}

/** The upstream's answer headers with the gateway's own: both sides' cookies; the gateway's value otherwise. */
function withOwn(
  headers: Record<string, string | string[]>,
  own: Record<string, string | string[]>,
): Record<string, string | string[]> {
  const out = { ...headers, ...own };
  const theirs = headers['set-cookie'];
  const ours = own['set-cookie'];
  if (theirs && ours) out['set-cookie'] = [...[theirs].flat(), ...[ours].flat()];
  return out;
}

/** An HTTP/1.1 answer written straight to a socket (upgrade requests have no response object). */
export function writeRawResponse(
  socket: Duplex,
  status: number,
  headers: Record<string, string | string[]>,
  body: Buffer,
): void {
  if (socket.destroyed) return;
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'content-length' || name === 'connection') continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      // Written to the socket by hand, so nothing else would stop a CR or LF from starting a new header.
      if (/[\r\n\0]/.test(name) || /[\r\n\0]/.test(v)) continue;
      lines.push(`${name}: ${v}`);
    }
  }
  lines.push(`content-length: ${body.length}`, 'connection: close');
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}
