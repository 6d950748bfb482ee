// Builds and starts the gateway: Fastify under Nest, the proxy route, and the assessment consumer.
import type { LoggerService } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RuntimeEnv } from '@stepgate/config';
import { ConsumerHealth, messagingTransport } from '@stepgate/kafka';
import { HttpExceptionFilter } from '@stepgate/observability';
import { loadGatewayConfig, type GatewayConfig } from './config';
import { gatewayMessaging, GatewayModule } from './gateway.module';
import { GatewayHandler } from './proxy/gateway.handler';
import { BadRequestHeader, checkRequestHeaders } from './proxy/request-headers';
import { METHODS, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TokenVerifier } from '@stepgate/identity';

/** The catch-all routes of the proxy (GatewayHandler); everything else is one of the gateway's own endpoints. */
const PROXY_ROUTES = new Set(['/*', '/']);

export async function createGatewayApp(
  runtime: RuntimeEnv,
  logger?: LoggerService,
  config: GatewayConfig = loadGatewayConfig(runtime),
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.gateway.maxBodyBytes,
    // Client addresses come from the socket; forwarding headers are never trusted by default.
    trustProxy: false,
    http: { maxHeaderSize: config.gateway.maxHeaderBytes },
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.register(config, runtime),
    adapter,
    {
      logger: logger ?? ['error', 'warn', 'log'],
      bodyParser: false,
    },
  );
  app.useGlobalFilters(new HttpExceptionFilter());

  const fastify = app.getHttpAdapter().getInstance();
  // Bodies are streamed to the upstream untouched: no parsing, whatever the content type.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, _payload, done) => done(null));
  const gateway = app.get(GatewayHandler);
  // Returning the reply tells Fastify the handler answered (possibly with a stream still flowing).
  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    await gateway.handle(req, reply);
    return reply;
  };
  // Every method Node parses reaches the handler, which refuses unknown ones with 405 and an Allow header
  // (and an access event), instead of Fastify's 404.
  for (const m of METHODS) {
    if (m !== 'CONNECT' && !fastify.supportedMethods.includes(m)) fastify.addHttpMethod(m, { hasBody: true });
  }
  const methods = fastify.supportedMethods.filter((m) => m !== 'CONNECT');
  fastify.route({ method: methods, url: '/*', handler });
  fastify.route({ method: methods, url: '/', handler });
  // The same header rules for the gateway's own endpoints (sign-in, logout, health): the proxy route checks
  // them itself, so its refusals are evented like any request.
  fastify.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (PROXY_ROUTES.has(req.routeOptions.url ?? '')) return;
    try {
      checkRequestHeaders(req.raw.rawHeaders);
    } catch (err) {
      if (!(err instanceof BadRequestHeader)) throw err;
      await reply.code(400).send({ error: 'invalid_request', message: err.message });
    }
  });
  // WebSocket upgrades are judged by the same pipeline, then piped to the upstream.
  fastify.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void gateway.handleUpgrade(req, socket, head);
  });
  fastify.server.on('connect', (req: IncomingMessage, socket: Duplex) => gateway.handleConnect(req, socket));
  // Warm the issuers' key sets so the first requests (and readiness) do not wait for them.
  void app.get(TokenVerifier).loadIssuerKeys();

  const consumer = app.connectMicroservice(messagingTransport(gatewayMessaging(runtime)), {
    inheritAppConfig: true,
  });
  app.get(ConsumerHealth).watch(consumer.status);
  await app.startAllMicroservices();
  await app.listen({ host: config.gateway.listen.host, port: config.gateway.listen.port });
  return app;
}
