import { type DynamicModule, Module } from '@nestjs/common';
import { REQUESTS } from '@stepgate/contracts';
import { MessagingModule, type MessagingOptions } from '@stepgate/kafka';
import type { RuntimeEnv } from '@stepgate/config';
import { TokenVerifier } from '@stepgate/identity';
import { ChallengeClient } from './challenge/challenge.client';
import { GATEWAY_CONFIG, type GatewayConfig } from './config';
import { AccessEventPublisher } from './events/access-event.publisher';
import { GatewayMetrics } from './health/gateway.metrics';
import { HealthHttpController } from './health/health.http.controller';
import { GatewayHandler } from './proxy/gateway.handler';
import { UpstreamForwarder } from './proxy/upstream.forwarder';
import { AssessmentsMessageController } from './risk/assessments.message.controller';
import { RiskClient } from './risk/risk.client';

/** Each gateway instance reads every assessment (to invalidate its own cache): a consumer group of its own. */
export function gatewayMessaging(runtime: RuntimeEnv): MessagingOptions {
  return {
    clientId: 'stepgate-gateway',
    groupId: `${runtime.kafkaGroupPrefix}-gateway-${runtime.instanceId}`,
    requests: [REQUESTS.assessRisk, REQUESTS.createChallenge],
    brokers: runtime.kafkaBrokers,
    maxWaitMs: runtime.kafkaMaxWaitMs,
    idempotent: runtime.kafkaIdempotent,
    fromBeginning: false,
  };
}

@Module({})
export class GatewayModule {
  static register(config: GatewayConfig, runtime: RuntimeEnv): DynamicModule {
    return {
      module: GatewayModule,
      imports: [MessagingModule.forRoot(gatewayMessaging(runtime))],
      controllers: [HealthHttpController, AssessmentsMessageController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
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
        RiskClient,
        ChallengeClient,
        UpstreamForwarder,
        AccessEventPublisher,
        GatewayHandler,
      ],
    };
  }
}
