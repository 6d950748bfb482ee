// Every factor and challenge route verifies the bearer itself: the gateway forwards it, but is not trusted to have.
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { bearerToken, TokenError, TokenVerifier } from '@stepgate/identity';
import type { FastifyRequest } from 'fastify';
import { clientIpOf, correlationIdOf, deviceIdOf } from './caller';
import { DeviceIdRequired, Unauthorized } from './http.errors';

@Injectable()
export class BearerGuard implements CanActivate {
  constructor(private readonly verifier: TokenVerifier) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const raw = bearerToken(request.headers.authorization);
    if (!raw) throw new Unauthorized('a bearer token is required');
    let token;
    try {
      token = await this.verifier.verify(raw);
    } catch (err) {
      if (err instanceof TokenError) throw new Unauthorized(err.message);
      throw err;
    }
    const deviceId = deviceIdOf(request);
    if (!deviceId) throw new DeviceIdRequired();
    request.stepgateCaller = {
      token,
      deviceId,
      correlationId: correlationIdOf(request),
      clientIp: clientIpOf(request),
      userAgent: String(request.headers['user-agent'] ?? '').slice(0, 1024),
    };
    return true;
  }
}
