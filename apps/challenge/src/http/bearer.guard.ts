// Every factor and challenge route verifies the token itself: the gateway forwards it, but is not trusted to
// have. A DPoP-bound token is taken only with the DPoP scheme and the key whose proof the gateway verified.
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { TokenError, TokenVerifier, type VerifiedToken } from '@stepgate/identity';
import type { FastifyRequest } from 'fastify';
import { clientIpOf, correlationIdOf } from './caller';
import { assertBoundTo, credentialsOf, deviceContextOf, invalidToken, verifiedJktOf } from './credentials';
import { DeviceIdRequired } from './http.errors';

@Injectable()
export class BearerGuard implements CanActivate {
  constructor(private readonly verifier: TokenVerifier) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const credentials = credentialsOf(request.raw.headersDistinct.authorization);
    let token: VerifiedToken;
    try {
      token = await this.verifier.verify(credentials.token);
    } catch (err) {
      if (err instanceof TokenError) throw invalidToken(credentials.scheme, err.message);
      throw err;
    }
    // The key binding first: a bound token without its key is an invalid token (401), whatever else is wrong.
    assertBoundTo(token.jkt, credentials, verifiedJktOf(request.headers));
    const device = deviceContextOf(request.headers);
    if (!device.deviceId || !device.deviceSource) throw new DeviceIdRequired();
    request.stepgateCaller = {
      token,
      deviceId: device.deviceId,
      deviceSource: device.deviceSource,
      dpopJkt: device.dpopJkt,
      correlationId: correlationIdOf(request),
      clientIp: clientIpOf(request),
      userAgent: String(request.headers['user-agent'] ?? '').slice(0, 1024),
    };
    return true;
  }
}
