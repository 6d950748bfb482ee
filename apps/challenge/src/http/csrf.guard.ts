// Checks the CSRF token on every state-changing request a browser makes. Runs after the BearerGuard.
//
// Browsers reach this service through the gateway, which turns their session cookie into a bearer token. So a
// bearer alone does not prove the request was meant: a page on another site (or a sibling subdomain, which
// SameSite treats as the same site) could make the browser send it. Browser requests therefore need a token
// from one of our pages, in the X-CSRF-Token header (fetch) or the _csrf field (forms). A request is a
// browser's when it carries what browsers always add and API clients do not: Origin, Sec-Fetch-Site, a
// Cookie, or a form body (or the gateway's X-StepGate-Browser mark). A cross-site request is refused outright.
import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { CsrfTokens } from './csrf';
import { CsrfRejected } from './http.errors';

const SCOPE = 'stepgate:csrf-scope';
/** Tokens for routes of this controller are bound to the challenge named by the `:id` parameter. */
export const ChallengeScopedCsrf = () => SetMetadata(SCOPE, 'challenge');

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isBrowserRequest(request: FastifyRequest): boolean {
  const h = request.headers;
  const type = String(h['content-type'] ?? '').toLowerCase();
  return (
    h.origin !== undefined ||
    h['sec-fetch-site'] !== undefined ||
    h.cookie !== undefined ||
    h['x-stepgate-browser'] !== undefined ||
    type.startsWith('application/x-www-form-urlencoded') ||
    type.startsWith('multipart/form-data') ||
    type.startsWith('text/plain')
  );
}

export function csrfScopeOf(kind: string | undefined, params: Record<string, string> | undefined): string {
  return kind === 'challenge' ? `challenge:${params?.id ?? ''}` : 'factors';
}

@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(
    private readonly tokens: CsrfTokens,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (SAFE_METHODS.has(request.method) || !isBrowserRequest(request)) return true;
    if (request.headers['sec-fetch-site'] === 'cross-site') {
      throw new CsrfRejected('cross-site requests cannot change anything here');
    }
    const caller = request.stepgateCaller;
    if (!caller) throw new Error('CsrfGuard needs the BearerGuard before it');
    const kind = this.reflector.getAllAndOverride<string | undefined>(SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]);
    const header = request.headers['x-csrf-token'];
    const field = (request.body as Record<string, unknown> | undefined)?._csrf;
    const token = typeof header === 'string' ? header : field;
    const binding = {
      subject: caller.token.subject,
      deviceId: caller.deviceId,
      sessionId: caller.token.sessionId,
      scope: csrfScopeOf(kind, request.params as Record<string, string>),
    };
    if (token === undefined) throw new CsrfRejected('the CSRF token is missing; reload the page');
    if (!this.tokens.verify(binding, token, Date.now())) {
      throw new CsrfRejected('the CSRF token is invalid or expired; reload the page');
    }
    return true;
  }
}
