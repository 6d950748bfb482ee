// Who is calling: the verified token, the device the gateway vouches for, and the request's correlation id.
import { isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { DeviceSource } from '@stepgate/contracts';
import type { VerifiedToken } from '@stepgate/identity';
import type { FastifyRequest } from 'fastify';

export interface Caller {
  token: VerifiedToken;
  deviceId: string;
  /** Where the gateway got the device id: a DPoP key, the X-Device-Id header, or the browser's cookie. */
  deviceSource: DeviceSource;
  /** The DPoP key this request proved (the token is bound to it); null for a Bearer request. */
  dpopJkt: string | null;
  correlationId: string;
  /** Only a risk signal, never used to authorise anything: it comes from a forwarding header. */
  clientIp: string;
  userAgent: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    stepgateCaller?: Caller;
  }
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function correlationIdOf(request: FastifyRequest): string {
  const value = request.headers['x-correlation-id'];
  return typeof value === 'string' && CORRELATION_ID.test(value) ? value : randomUUID();
}

export function clientIpOf(request: FastifyRequest): string {
  const forwarded = request.headers['x-forwarded-for'];
  const first = (typeof forwarded === 'string' ? forwarded.split(',')[0] : undefined)?.trim();
  const ip = first && isIP(first) ? first : request.ip;
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is an IPv4 client; say so, as the gateway does.
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** The caller the BearerGuard established; only on routes the guard protects. */
export const CurrentCaller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const caller = ctx.switchToHttp().getRequest<FastifyRequest>().stepgateCaller;
  if (!caller) throw new Error('CurrentCaller used on a route without BearerGuard');
  return caller;
});
