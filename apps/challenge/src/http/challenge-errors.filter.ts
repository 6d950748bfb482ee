// The shared HTTP exception filter, plus Retry-After for errors that say when to come back (RFC 9110 10.2.3).
import { type ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import { DomainError, HttpExceptionFilter } from '@stepgate/observability';
import type { FastifyReply } from 'fastify';

@Catch(DomainError, HttpException)
export class ChallengeErrorsFilter extends HttpExceptionFilter {
  override catch(error: DomainError | HttpException, host: ArgumentsHost): void {
    if (host.getType() === 'http' && error instanceof DomainError) {
      const retryAfter = error.details.retry_after;
      if (typeof retryAfter === 'number') {
        void host.switchToHttp().getResponse<FastifyReply>().header('Retry-After', String(retryAfter));
      }
    }
    super.catch(error, host);
  }
}
