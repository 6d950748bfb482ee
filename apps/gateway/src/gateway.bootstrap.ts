// Builds and starts the gateway: Fastify under Nest, the proxy route, and the assessment consumer. The HTTP
// server listens without the broker if it does not answer within moments; the bus and the consumer keep
// connecting in the background, retrying.
//
// Shutdown order: the adapter's beforeClose (Nest's first step) marks the gateway draining, so a request that
// still arrives is refused here with a 503 and an access event; the HTTP server stops accepting and waits for
// the requests in flight; then the access-event publisher flushes (to Kafka, else the spill file); only then
// does Nest close the consumer and, in the messaging module's shutdown hook, the producer.
import { Logger, type INestMicroservice, type LoggerService } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RuntimeEnv } from '@stepgate/config';
import { ConsumerHealth, KafkaMessageBus, MessageBus, messagingTransport } from '@stepgate/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameworkErrorsFilter } from '@stepgate/observability';
import { loadGatewayConfig, type GatewayConfig } from './config';
import { gatewayMessaging, GatewayModule } from './gateway.module';
import { GatewayHandler } from './proxy/gateway.handler';
import { BadRequestHeader, checkRequestHeaders } from './proxy/request-headers';
import { METHODS, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TokenVerifier } from '@stepgate/identity';
import { AccessEventPublisher } from './events/access-event.publisher';

/** The catch-all routes of the proxy (GatewayHandler); everything else is one of the gateway's own endpoints. */
const PROXY_ROUTES = new Set(['/*', '/']);
const CONSUMER_RETRY_MAX_MS = 30_000;
/** How long a start waits for Kafka before the gateway listens without it. */
const BROKER_GRACE_MS = 10_000;

/**
 * Nest's Fastify adapter, told when shutdown starts: Nest calls beforeClose first, while the server still
 * accepts connections. Fastify's and Nest's own closing 503s are off (they bypass the gateway, so they would
 * leave no access event): the gateway's onRequest hook answers those requests instead.
 */
class GatewayFastifyAdapter extends FastifyAdapter {
  draining = false;
  /** Runs once the HTTP server has closed (every request answered), before Nest closes the consumer and the bus. */
  afterClose: (() => Promise<void>) | null = null;

  override beforeClose(): void {
    this.draining = true;
    super.beforeClose();
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      // The flush runs even when closing the server failed: events in memory are not left behind.
      await this.afterClose?.();
    }
  }
}

export async function createGatewayApp(
  runtime: RuntimeEnv,
  logger?: LoggerService,
  config: GatewayConfig = loadGatewayConfig(runtime),
): Promise<NestFastifyApplication> {
  const adapter = new GatewayFastifyAdapter({
    bodyLimit: config.gateway.maxBodyBytes,
    // Client addresses come from the socket; forwarding headers are never trusted by default.
    trustProxy: false,
    http: { maxHeaderSize: config.gateway.maxHeaderBytes },
    // Refused by the gateway's own hook while draining (with an access event); Fastify still adds
    // `Connection: close` to every response once it closes.
    return503OnClosing: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.register(config, runtime),
    adapter,
    {
      logger: logger ?? ['error', 'warn', 'log'],
      bodyParser: false,
    },
  );
  app.useGlobalFilters(new FrameworkErrorsFilter());

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
  // Shutting down: every request that still arrives gets a 503, and an access event like any other answer.
  fastify.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!adapter.draining) return;
    gateway.refuseWhileDraining(req, reply);
    return reply;
  });
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

  // The last access events go out (or to the spill file) as soon as no request can make more, before the
  // consumer's and the bus's disconnects, which wait on a broker that may be away.
  const events = app.get(AccessEventPublisher);
  adapter.afterClose = () => events.drain();

  const consumer = app.connectMicroservice(messagingTransport(gatewayMessaging(runtime)), {
    inheritAppConfig: true,
  });
  app.get(ConsumerHealth).watch(consumer.status);
  const consuming = listenInBackground(consumer, () => adapter.draining);
  // A broker that answers does so within moments: give it those, so that a fresh gateway's first requests can
  // ask risk and challenge and see assessments. One that does not answer holds the start no longer.
  const bus = app.get(MessageBus);
  const connected = Promise.all([bus instanceof KafkaMessageBus ? bus.connection : true, consuming]);
  if ((await Promise.race([connected, sleep(BROKER_GRACE_MS, 'late' as const, { ref: false })])) === 'late')
    new Logger('GatewayBootstrap').warn(
      `Kafka did not answer within ${BROKER_GRACE_MS / 1000} s: serving without it (cached decisions, the ` +
        "routes' fail modes, access events spilled) and connecting in the background",
    );
  await app.listen({ host: config.gateway.listen.host, port: config.gateway.listen.port });
  return app;
}

/**
 * Starts the assessment consumer without holding up the HTTP server: without the broker the gateway serves on
 * cached decisions and the routes' fail modes, and the consumer joins when the broker answers.
 */
function listenInBackground(consumer: INestMicroservice, stopping: () => boolean): Promise<boolean> {
  const logger = new Logger('GatewayBootstrap');
  return (async () => {
    for (let delay = 1000; !stopping(); delay = Math.min(delay * 2, CONSUMER_RETRY_MAX_MS)) {
      try {
        await consumer.listen();
        return true;
      } catch (err) {
        if (stopping()) return false;
        logger.warn(`starting the assessment consumer: ${String(err)}; retrying in ${delay / 1000} s`);
        await sleep(delay, undefined, { ref: false });
      }
    }
    return false;
  })();
}
