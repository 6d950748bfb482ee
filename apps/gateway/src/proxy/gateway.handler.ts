// The gateway's transports: a proxied HTTP request, a WebSocket upgrade, a CONNECT and a request that arrives
// while draining. Each one takes the request's context, has it judged by the pipeline (gateway.pipeline.ts),
// writes the answer its own way (a Fastify reply, or bytes on a socket), and records one access event and
// log line whatever the request's fate.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { withCorrelationId } from '@stepgate/observability';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientAddress, TrustedProxies, unmapped } from '../auth/client-address';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { AccessRecorder } from './access-recorder';
import { GatewayPipeline } from './gateway.pipeline';
import { ElevationStage } from './stages/elevation.stage';
import { respond, type Forward, type Judgement, type RequestContext, type Respond } from './stages/judgement';
import { ALLOW_HEADER } from './stages/request.stage';
import { UpstreamForwarder, writeRawResponse } from './upstream.forwarder';

@Injectable()
export class GatewayHandler {
  private readonly trusted: TrustedProxies;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly pipeline: GatewayPipeline,
    private readonly elevation: ElevationStage,
    private readonly forwarder: UpstreamForwarder,
    private readonly recorder: AccessRecorder,
  ) {
    this.trusted = new TrustedProxies(config.gateway.trustedProxies);
  }

  async handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ctx = this.context(req.raw);
    // Every log line written on this request's behalf, in any stage, names it.
    return withCorrelationId(ctx.correlationId, () => this.serve(ctx, reply));
  }

  private async serve(ctx: RequestContext, reply: FastifyReply): Promise<void> {
    void reply.header('x-correlation-id', ctx.correlationId);
    let judged = await this.pipeline.judge(ctx, false);
    let status = 500;
    try {
      if (judged.answer.kind === 'forward' && judged.answer.elevate)
        judged = await this.elevation.elevate(ctx, judged as Judgement & { answer: Forward });
      const answer = judged.answer;
      if (judged.cookies.length > 0) void reply.header('set-cookie', [...judged.cookies]);
      if (answer.kind === 'respond') {
        status = answer.status;
        writeReply(reply, answer);
      } else status = await this.forwarder.forward(answer.forward, reply);
    } catch (err) {
      const failed = this.pipeline.failure(ctx, err, judged.facts);
      judged = { ...judged, facts: failed.facts };
      status = failed.answer.status;
      if (!reply.sent) writeReply(reply, failed.answer);
    } finally {
      this.recorder.record(ctx, judged.facts, status);
    }
  }

  /** A WebSocket (or other) upgrade: judged like any request, then piped to the upstream. */
  async handleUpgrade(raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ctx = this.context(raw);
    return withCorrelationId(ctx.correlationId, () => this.serveUpgrade(ctx, socket, head));
  }

  private async serveUpgrade(ctx: RequestContext, socket: Duplex, head: Buffer): Promise<void> {
    const raw = ctx.raw;
    socket.on('error', () => socket.destroy());
    const websocket = raw.method === 'GET' && String(raw.headers.upgrade).toLowerCase() === 'websocket';
    let judged: Judgement = websocket
      ? await this.pipeline.judge(ctx, true)
      : {
          answer: respond(400, {
            error: 'invalid_request',
            message: 'only WebSocket upgrades (GET) are proxied',
          }),
          facts: { ...this.pipeline.initialFacts(), reason: 'unsupported_upgrade' },
          cookies: [],
        };
    let status = 500;
    const own: Record<string, string | string[]> = { 'x-correlation-id': ctx.correlationId };
    if (judged.cookies.length > 0) own['set-cookie'] = [...judged.cookies];
    try {
      const answer = judged.answer;
      if (answer.kind === 'respond') {
        status = answer.status;
        writeSocket(socket, answer, own);
      } else status = await this.forwarder.upgrade(answer.forward, socket, head, own);
    } catch (err) {
      const failed = this.pipeline.failure(ctx, err, judged.facts);
      judged = { ...judged, facts: failed.facts };
      status = failed.answer.status;
      writeSocket(socket, failed.answer, { 'x-correlation-id': ctx.correlationId });
    } finally {
      this.recorder.record(ctx, judged.facts, status);
    }
  }

  /**
   * CONNECT (a tunnel request): Node hands it over apart from other requests; answered like any method the
   * gateway does not proxy, 405 with Allow, and evented, instead of a closed connection.
   */
  handleConnect(raw: IncomingMessage, socket: Duplex): void {
    const ctx = this.context(raw);
    socket.on('error', () => socket.destroy());
    const answer = respond(
      405,
      { error: 'method_not_allowed', message: 'CONNECT is not accepted' },
      { allow: ALLOW_HEADER },
    );
    writeSocket(socket, answer, { 'x-correlation-id': ctx.correlationId });
    this.recorder.record(ctx, { ...this.pipeline.initialFacts(), reason: 'method_not_allowed' }, 405);
  }

  /**
   * A request that arrives while the gateway shuts down (on a connection opened before): 503 with
   * `Connection: close`, so the client goes elsewhere, and an access event like every answer.
   */
  refuseWhileDraining(req: FastifyRequest, reply: FastifyReply): void {
    const ctx = this.context(req.raw);
    void reply
      .code(503)
      .headers({ connection: 'close', 'x-correlation-id': ctx.correlationId })
      .send({ error: 'service_unavailable', message: 'the gateway is shutting down' });
    this.recorder.record(ctx, { ...this.pipeline.initialFacts(), reason: 'shutting_down' }, 503);
  }

  /** Who sent the request from where: the socket's peer, or what a trusted proxy says it saw. */
  private context(raw: IncomingMessage): RequestContext {
    const peer = raw.socket.remoteAddress;
    // A trusted proxy that terminated TLS says so; nobody else is believed.
    const proto =
      this.trusted.has(unmapped(peer ?? '')) && raw.headers['x-forwarded-proto'] === 'https'
        ? 'https'
        : 'http';
    return {
      raw,
      correlationId: randomUUID(),
      clientIp: clientAddress(peer, raw.headers['x-forwarded-for'], this.trusted),
      proto,
      started: performance.now(),
    };
  }
}

/** The HTTP transport's writer (Set-Cookie is on the reply already: Fastify adds a relayed answer's to it). */
function writeReply(reply: FastifyReply, answer: Respond): void {
  void reply.code(answer.status);
  if (answer.headers) void reply.headers(answer.headers);
  void (answer.body === undefined ? reply.send() : reply.send(answer.body));
}

/** The upgrade transport's writer: an HTTP/1.1 answer written to the socket, then closed. */
function writeSocket(socket: Duplex, answer: Respond, own: Record<string, string | string[]>): void {
  const body = answer.body === undefined ? '' : JSON.stringify(answer.body);
  const { 'set-cookie': cookies, ...rest } = own;
  writeRawResponse(
    socket,
    answer.status,
    {
      'content-type': 'application/json',
      ...rest,
      ...answer.headers,
      ...(cookies ? { 'set-cookie': cookies } : {}),
    },
    Buffer.from(body),
  );
}
