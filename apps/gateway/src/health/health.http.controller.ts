import { Controller, Get, Header, HttpCode, Inject, Res, UseFilters } from '@nestjs/common';
import { demoSecretsReadinessWarnings } from '@stepgate/config';
import { TOPICS } from '@stepgate/contracts';
import { IdentityAssertionSigner, TokenVerifier } from '@stepgate/identity';
import {
  BusMetrics,
  ConsumerHealth,
  consumerSettingsOf,
  livenessBody,
  readinessBody,
  type LivenessBody,
} from '@stepgate/kafka';
import { HttpErrorsFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { SessionRevocations } from '../auth/session-revocations';
import { AccessEventPublisher } from '../events/access-event.publisher';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { GatewayPolicyService } from '../policy/gateway-policy.service';
import { GatewayMetrics } from './gateway.metrics';

/** Liveness, readiness, metrics and the key set upstreams verify identity assertions with. */
@Controller('.stepgate')
@UseFilters(new HttpErrorsFilter())
export class HealthHttpController {
  private lastKeyAttempt = 0;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly verifier: TokenVerifier,
    private readonly assertions: IdentityAssertionSigner,
    private readonly consumer: ConsumerHealth,
    private readonly policy: GatewayPolicyService,
    private readonly events: AccessEventPublisher,
    private readonly revocations: SessionRevocations,
    bus: BusMetrics,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    // The bounds the gateway's consumer is held to, before bootstrap starts it (gateway.kafka), and its
    // metrics (dead letters, redelivery, offset resets, lag, crashes) under the gateway's service label.
    consumer.configure(consumerSettingsOf(config.gateway.kafka));
    bus.registerIn(metrics.registry);
  }

  /**
   * Liveness: 503 only when restarting the process is what helps, a bus consumer that kafkajs gave up on or
   * that crashes in a loop (without it the gateway would keep serving cached risk decisions that risk has
   * since changed). A broker that is away is waited out: readiness says so.
   */
  @Get('healthz')
  @Header('cache-control', 'no-store')
  health(@Res({ passthrough: true }) reply: FastifyReply): LivenessBody {
    const { code, body } = livenessBody(this.consumer.liveness());
    void reply.status(code);
    return body;
  }

  /**
   * Readiness: the issuers' key sets, fetched at least once (retried here at most once a second); a published
   * policy version (until one arrives the gateway runs on the config file's policy, which an admin may have
   * tightened since) on a policy topic that is compacted; the assessment consumer in its group since start,
   * and no crash loop. Kafka away later, lag, messages being retried, skipped offsets, access events
   * dropped past the spill file's bound, session revocations not read yet and demo secrets in use are
   * warnings.
   */
  @Get('readyz')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    if (!this.verifier.issuerKeysLoaded && Date.now() - this.lastKeyAttempt > 1000) {
      this.lastKeyAttempt = Date.now();
      await this.verifier.loadIssuerKeys();
    }
    // Without Kafka the gateway still serves: on cached decisions, the routes' fail modes and the policy in
    // force. Every gateway going unready at once would make a Kafka outage an outage of the gateway: warned.
    const consumer = await this.consumer.readiness({
      compacted: [TOPICS.policyVersion],
      brokerOutage: 'warning',
    });
    const reasons = [
      ...(this.verifier.issuerKeysLoaded ? [] : ['issuer key sets not fetched yet']),
      ...(this.policy.current.version === null
        ? ['no published policy version yet (risk publishes one at start on stepgate.policy.v1)']
        : []),
      ...consumer.reasons,
    ];
    // Access events past the spill file's bound are dropped: said, but not a reason to leave rotation, for in
    // an outage long enough to fill it every gateway would leave at once.
    const warnings = [
      ...consumer.warnings,
      ...this.events.readinessReasons(),
      ...this.revocations.readinessWarnings(),
      ...demoSecretsReadinessWarnings(),
    ];
    const { code, body } = readinessBody({ reasons, warnings });
    await reply.code(code).header('cache-control', 'no-store').send(body);
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4')
  async prometheus(): Promise<string> {
    return this.metrics.registry.metrics();
  }

  @Get('jwks.json')
  @HttpCode(200)
  @Header('cache-control', 'public, max-age=300')
  jwks(): { keys: unknown[] } {
    return this.assertions.jwks;
  }
}
