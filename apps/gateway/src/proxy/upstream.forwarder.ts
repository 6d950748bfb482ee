// Streams a request to an upstream over a keep-alive pool and streams the answer back.
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors, Pool } from 'undici';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { downstreamResponseHeaders, upstreamRequestHeaders, type ForwardContext } from './forward-headers';

interface Upstream {
  pool: Pool;
  basePath: string;
  timeoutMs: number;
}

@Injectable()
export class UpstreamForwarder implements OnApplicationShutdown {
  private readonly upstreams = new Map<string, Upstream>();

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    const entries: [string, { url: string; timeoutMs: number }][] = [
      ...Object.entries(config.gateway.upstreams),
      ['stepgate.challenge', { url: config.gateway.challenge.url, timeoutMs: 10_000 }],
    ];
    for (const [name, u] of entries) {
      const url = new URL(u.url);
      this.upstreams.set(name, {
        pool: new Pool(url.origin, { connections: 128, keepAliveTimeout: 30_000 }),
        basePath: url.pathname.replace(/\/$/, ''),
        timeoutMs: u.timeoutMs,
      });
    }
  }

  /** Resolves with the upstream's status once the answer has started streaming to the client. */
  async forward(
    name: string,
    req: FastifyRequest,
    reply: FastifyReply,
    pathAndQuery: string,
    ctx: ForwardContext,
  ): Promise<number> {
    const upstream = this.upstreams.get(name);
    if (!upstream) throw new Error(`unknown upstream ${name}`);
    const hasBody =
      req.headers['content-length'] !== undefined
        ? req.headers['content-length'] !== '0'
        : req.headers['transfer-encoding'] !== undefined;
    try {
      const res = await upstream.pool.request({
        path: upstream.basePath + pathAndQuery,
        method: req.method,
        headers: upstreamRequestHeaders(req.headers, ctx),
        body: hasBody ? req.raw : null,
        headersTimeout: upstream.timeoutMs,
        bodyTimeout: upstream.timeoutMs,
      });
      void reply.code(res.statusCode).headers(downstreamResponseHeaders(res.headers)).send(res.body);
      return res.statusCode;
    } catch (err) {
      const timedOut = err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError;
      const status = timedOut ? 504 : 502;
      void reply
        .code(status)
        .send({ error: timedOut ? 'upstream_timeout' : 'bad_gateway', message: `upstream ${name} failed` });
      return status;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.upstreams.values()].map((u) => u.pool.close()));
  }
}
