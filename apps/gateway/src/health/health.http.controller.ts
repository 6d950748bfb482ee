import { Controller, Get, Header, HttpCode, Res } from '@nestjs/common';
import { TokenVerifier } from '@stepgate/identity';
import { ConsumerHealth } from '@stepgate/kafka';
import type { FastifyReply } from 'fastify';
import { IdentityAssertionSigner } from '../assertion/identity-assertion';
import { GatewayPolicy } from '../policy/gateway-policy.service';
import { GatewayMetrics } from './gateway.metrics';

/** Liveness, readiness, metrics and the key set upstreams verify identity assertions with. */
@Controller('.stepgate')
export class HealthHttpController {
  private lastKeyAttempt = 0;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly verifier: TokenVerifier,
    private readonly assertions: IdentityAssertionSigner,
    private readonly consumer: ConsumerHealth,
    private readonly policy: GatewayPolicy,
  ) {}

  /**
   * Liveness: the process answers, and its bus consumer runs. Without it the gateway would keep serving
   * cached risk decisions that risk has since changed, so a crashed consumer asks for a restart.
   */
  @Get('healthz')
  health(@Res({ passthrough: true }) reply: FastifyReply): { status: string; reason?: string } {
    if (!this.consumer.healthy) {
      void reply.status(503);
      return { status: 'unavailable', reason: 'the bus consumer crashed' };
    }
    return { status: 'ok' };
  }

  /**
   * Readiness: the gateway listens only after its message bus connected, so what is left is the issuers'
   * key sets, fetched at least once (retried here at most once a second), and a published policy version:
   * until one arrives the gateway runs on the config file's policy, which an admin may have tightened since.
   */
  @Get('readyz')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    if (!this.verifier.issuerKeysLoaded && Date.now() - this.lastKeyAttempt > 1000) {
      this.lastKeyAttempt = Date.now();
      await this.verifier.loadIssuerKeys();
    }
    const reasons = [
      ...(this.verifier.issuerKeysLoaded ? [] : ['issuer key sets not fetched yet']),
      ...(this.policy.current.version === null
        ? ['no published policy version yet (risk publishes one at start on stepgate.policy.v1)']
        : []),
    ];
    await reply
      .code(reasons.length === 0 ? 200 : 503)
      .header('cache-control', 'no-store')
      .send(reasons.length === 0 ? { status: 'ready' } : { status: 'not_ready', reasons });
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
