// Only a gateway may ask risk for an assessment over HTTP: an open endpoint would tell anyone on the network
// how risky a context looks for any subject (which device, network or browser passes quietly). The gateway
// proves itself with a service token signed by the key of its JWKS, the one risk already reads for admin
// assertions (risk.admin.assertion: STEPGATE_GATEWAY_JWKS and the gateway's issuer);
// adr/0016-direct-risk-path.
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { RISK_SERVICE_AUDIENCE } from '@stepgate/contracts';
import { ServiceKeysUnavailable, ServiceTokenError, ServiceTokenVerifier } from '@stepgate/identity';
import { Unauthenticated, Unavailable } from '@stepgate/observability';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RISK_CONFIG, type RiskConfig } from '../config';
import { DirectAssessmentMetrics } from './direct-assessment.metrics';

@Injectable()
export class GatewayCallerGuard implements CanActivate {
  private readonly verifier: ServiceTokenVerifier;

  constructor(
    @Inject(RISK_CONFIG) config: RiskConfig,
    private readonly metrics: DirectAssessmentMetrics,
  ) {
    const { jwksUri, issuer } = config.admin.assertion;
    this.verifier = new ServiceTokenVerifier({ issuer, audience: RISK_SERVICE_AUDIENCE, jwks: jwksUri });
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const authorization = http.getRequest<FastifyRequest>().raw.headersDistinct.authorization;
    try {
      // One Authorization header exactly: two are a confused or crafted request.
      await this.verifier.verify(authorization?.length === 1 ? authorization[0] : undefined);
      return true;
    } catch (err) {
      if (err instanceof ServiceKeysUnavailable) {
        this.metrics.count('keys_unavailable');
        throw new Unavailable("the gateway's keys cannot be read");
      }
      if (!(err instanceof ServiceTokenError)) throw err;
      this.metrics.count('unauthenticated');
      void http.getResponse<FastifyReply>().header('www-authenticate', 'Bearer error="invalid_token"');
      throw new Unauthenticated(err.message);
    }
  }
}
