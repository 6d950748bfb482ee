// Maps domain errors and Nest's HTTP exceptions to JSON answers with their code. It catches only those:
// with inheritAppConfig a microservice shares the app's global filters, and a catch-all here would swallow
// invalid messages before the dead-letter filter sees them. Anything else gets Nest's generic 500.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DomainError } from './domain.error';

@Catch(DomainError, HttpException)
export class HttpExceptionFilter implements ExceptionFilter {
  catch(error: DomainError | HttpException, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof DomainError) {
      void reply.code(error.status).send({ error: error.code, message: error.message, ...error.details });
      return;
    }
    const status = error.getStatus();
    void reply.code(status).send({ error: httpCode(status), message: error.message });
  }
}

function httpCode(status: number): string {
  if (status === 404) return 'not_found';
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 413) return 'payload_too_large';
  return status >= 500 ? 'internal_error' : 'request_failed';
}
