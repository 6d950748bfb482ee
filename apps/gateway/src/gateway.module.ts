import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { REQUESTS, RISK_SERVICE_AUDIENCE } from '@stepgate/contracts';
import { MessageBus, MessagingModule, type MessagingOptions } from '@stepgate/kafka';
import type { RuntimeEnv } from '@stepgate/config';
import {
  DpopNonces,
  IdentityAssertionSigner,
  MemoryReplayStore,
  PostgresReplayStore,
  ServiceTokenSigner,
  TokenVerifier,
} from '@stepgate/identity';
import { hkdfSync } from 'node:crypto';
import { Credentials, type ReplayStore } from './auth/credentials';
import { AuthHttpController } from './auth/auth.http.controller';
import { SessionCodec } from './auth/session';
import { SessionRevocations } from './auth/session-revocations';
import { SignInService } from './auth/sign-in.service';
import { ChallengeClient } from './challenge/challenge.client';
import { loadGatewayKeys, type GatewayKeys } from './keys/gateway-keys';
import { GATEWAY_CONFIG, type GatewayConfig } from './config';
import { AccessEventPublisher, accessEventSettings } from './events/access-event.publisher';
import { GatewayMetrics } from './health/gateway.metrics';
import { HealthHttpController } from './health/health.http.controller';
import { GatewayPolicyService } from './policy/gateway-policy.service';
import { AccessRecorder } from './proxy/access-recorder';
import { GatewayHandler } from './proxy/gateway.handler';
import { GatewayPipeline } from './proxy/gateway.pipeline';
import { DecisionStage } from './proxy/stages/decision.stage';
import { ElevationStage } from './proxy/stages/elevation.stage';
import { IdentityStage } from './proxy/stages/identity.stage';
import { StepUpStage } from './proxy/stages/step-up.stage';
import { UpstreamForwarder } from './proxy/upstream.forwarder';
import { DecisionChangesMessageController } from './risk/decision-changes.message.controller';
import { RiskClient } from './risk/risk.client';
import { DirectRiskClient } from './risk/risk.direct-client';
import { BusRiskTransport, RISK_TRANSPORT, type RiskTransport } from './risk/risk.transport';

const GATEWAY_KEYS = Symbol('GATEWAY_KEYS');
const DPOP_REPLAY = Symbol('DPOP_REPLAY');

/**
 * Where DPoP proof ids are remembered: PostgreSQL when there is a database to share between instances (or the
 * config insists), else this process's memory (one instance).
 */
function dpopReplayStore(config: GatewayConfig, runtime: RuntimeEnv): ReplayStore {
  const { replay, replayMaxEntries } = config.gateway.dpop;
  const url = runtime.databaseUrl;
  if (replay === 'postgres' || (replay === 'auto' && url)) {
    if (!url) throw new Error('gateway.dpop.replay is postgres but DATABASE_URL is not set');
    return new PostgresReplayStore({ pool: { connectionString: url, max: 4 } });
  }
  return new MemoryReplayStore({ maxEntries: replayMaxEntries });
}

/**
 * How assessments are asked (adr/0016-direct-risk-path): in process when the bus is (embedded, or no broker:
 * no consumer group to wait for), else directly over HTTP when gateway.risk.url is set, else over Kafka
 * request/reply.
 */
function riskTransport(
  config: GatewayConfig,
  runtime: RuntimeEnv,
  bus: MessageBus,
  keys: GatewayKeys,
): RiskTransport {
  const logger = new Logger('RiskClient');
  const { url, connections, timeoutMs } = config.gateway.risk;
  if (runtime.kafkaBrokers.length === 0) {
    if (url) logger.log('gateway.risk.url is ignored on the in-process bus: risk answers in process');
    return new BusRiskTransport(bus, 'in_process');
  }
  if (!url) {
    logger.log('assessments over Kafka request/reply (gateway.risk.url is not set)');
    return new BusRiskTransport(bus, 'kafka');
  }
  logger.log(`assessments directly from ${url}`);
  const tokens = new ServiceTokenSigner(
    {
      issuer: config.gateway.assertion.issuer,
      audience: RISK_SERVICE_AUDIENCE,
      subject: `stepgate-gateway/${runtime.instanceId}`,
      ttlSeconds: 300,
    },
    keys.signing,
  );
  return new DirectRiskClient({ url, connections, timeoutMs }, tokens);
}

/**
 * Each gateway instance reads every decision change (to invalidate its own cache): a consumer group of its own. It
 * starts and serves without the broker (cached decisions, the routes' fail modes, access events spilled).
 */
export function gatewayMessaging(runtime: RuntimeEnv): MessagingOptions {
  return {
    clientId: 'stepgate-gateway',
    groupId: `${runtime.kafkaGroupPrefix}-gateway-${runtime.instanceId}`,
    requests: [REQUESTS.assessRisk, REQUESTS.createChallenge],
    brokers: runtime.kafkaBrokers,
    maxWaitMs: runtime.kafkaMaxWaitMs,
    idempotent: runtime.kafkaIdempotent,
    fromBeginning: false,
    startWithoutBroker: true,
  };
}

@Module({})
export class GatewayModule {
  static register(config: GatewayConfig, runtime: RuntimeEnv): DynamicModule {
    return {
      module: GatewayModule,
      imports: [MessagingModule.forRoot(gatewayMessaging(runtime))],
      controllers: [HealthHttpController, AuthHttpController, DecisionChangesMessageController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        {
          provide: GATEWAY_KEYS,
          useFactory: () => loadGatewayKeys(runtime.env, runtime.dataDir, new Logger('GatewayKeys')),
        },
        {
          provide: SessionCodec,
          inject: [GATEWAY_KEYS],
          useFactory: (keys: GatewayKeys) =>
            new SessionCodec(
              keys.sessionKey,
              config.gateway.signIn?.session ?? { idleTimeoutSeconds: 1800, absoluteTimeoutSeconds: 43_200 },
            ),
        },
        {
          provide: IdentityAssertionSigner,
          inject: [GATEWAY_KEYS],
          useFactory: (keys: GatewayKeys) =>
            new IdentityAssertionSigner(config.gateway.assertion, keys.signing),
        },
        {
          provide: SessionRevocations,
          inject: [MessageBus],
          useFactory: (bus: MessageBus) =>
            new SessionRevocations(bus, config.gateway.signIn?.session ?? { absoluteTimeoutSeconds: 43_200 }),
        },
        SignInService,
        { provide: DPOP_REPLAY, useFactory: () => dpopReplayStore(config, runtime) },
        {
          provide: Credentials,
          inject: [DPOP_REPLAY, GATEWAY_KEYS],
          useFactory: (replay: ReplayStore, keys: GatewayKeys) =>
            new Credentials(
              Credentials.settingsOf(
                config,
                replay,
                // Every instance shares the session key, so each accepts the nonces any of them issued.
                new DpopNonces({
                  secret: Buffer.from(hkdfSync('sha256', keys.sessionKey, '', 'stepgate dpop nonce', 32)),
                }),
              ),
            ),
        },
        {
          provide: TokenVerifier,
          useFactory: () =>
            new TokenVerifier(
              config.gateway.issuers,
              {
                issuer: config.gateway.challenge.issuer,
                audience: config.gateway.challenge.audience,
                jwks: config.gateway.challenge.jwksUri,
              },
              config.gateway.clockSkewSeconds,
            ),
        },
        GatewayMetrics,
        {
          provide: GatewayPolicyService,
          inject: [MessageBus, GatewayMetrics],
          useFactory: (bus: MessageBus, metrics: GatewayMetrics) =>
            new GatewayPolicyService(config, bus, metrics),
        },
        {
          provide: RISK_TRANSPORT,
          inject: [MessageBus, GATEWAY_KEYS],
          useFactory: (bus: MessageBus, keys: GatewayKeys) => riskTransport(config, runtime, bus, keys),
        },
        RiskClient,
        ChallengeClient,
        UpstreamForwarder,
        {
          provide: AccessEventPublisher,
          inject: [MessageBus, GatewayMetrics],
          useFactory: (bus: MessageBus, metrics: GatewayMetrics) =>
            new AccessEventPublisher(
              bus,
              metrics,
              accessEventSettings(config.gateway.accessEvents, runtime.dataDir, runtime.instanceId),
            ),
        },
        GatewayHandler,
        GatewayPipeline,
        IdentityStage,
        DecisionStage,
        StepUpStage,
        ElevationStage,
        AccessRecorder,
      ],
    };
  }
}
