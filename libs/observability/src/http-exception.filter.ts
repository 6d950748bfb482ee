// Maps domain errors to JSON answers with their code; hides the internals of everything unexpected.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DomainError } from './domain.error';

@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof DomainError) {
      void reply.code(error.status).send({ error: error.code, message: error.message, ...error.details });
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      void reply.code(status).send({ error: httpCode(status), message: error.message });
      return;
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    void reply.code(500).send({ error: 'internal_error', message: 'internal error' });
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
