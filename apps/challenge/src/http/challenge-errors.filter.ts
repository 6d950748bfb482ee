// The shared HTTP exception filter, plus Retry-After for errors that say when to come back (RFC 9110 10.2.3)
// and the WWW-Authenticate challenge of a refused credential (RFC 6750 3, RFC 9449 7.1).
import { type ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import { DomainError, HttpExceptionFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';
import { AuthenticationFailed } from './http.errors';

@Catch(DomainError, HttpException)
export class ChallengeErrorsFilter extends HttpExceptionFilter {
  override catch(error: DomainError | HttpException, host: ArgumentsHost): void {
    if (host.getType() === 'http' && error instanceof DomainError) {
      const reply = host.switchToHttp().getResponse<FastifyReply>();
      const retryAfter = error.details.retry_after;
      if (typeof retryAfter === 'number') void reply.header('Retry-After', String(retryAfter));
      if (error instanceof AuthenticationFailed) void reply.header('WWW-Authenticate', error.wwwAuthenticate);
    }
    super.catch(error, host);
  }
}
