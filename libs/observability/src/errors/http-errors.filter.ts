// The one mapping from errors to HTTP answers: a domain error gets the status its service lists for it
// (HttpStatuses) and a `{ error: code, message, ...details }` body; Nest's HTTP exceptions (an unknown route,
// a malformed or oversized body) the same shape with a generic code; anything else is a 500 that says nothing
// of what went wrong, which goes to the log instead.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Observable } from 'rxjs';
import { DomainError } from './domain.error';
import { HttpStatuses } from './http-statuses';
import { errorReplyOf, RpcErrorsFilter } from './rpc-errors.filter';

export interface HttpErrorAnswer {
  status: number;
  body: { error: string; message: string; [detail: string]: unknown };
  headers: Record<string, string>;
}

export interface HttpErrorsOptions {
  /** Headers a service adds for some of its errors, e.g. the WWW-Authenticate challenge of a refused token. */
  headers?: (error: DomainError) => Record<string, string> | undefined;
}

const INTERNAL: HttpErrorAnswer = {
  status: 500,
  body: { error: 'internal_error', message: 'internal error' },
  headers: {},
};

/**
 * Bound on a service's HTTP controllers with that service's statuses (`@UseFilters(new HttpErrorsFilter(...))`).
 * Not global: a microservice shares the app's global filters, and this one catches everything.
 */
@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrors');
  private readonly rpc = new RpcErrorsFilter();

  constructor(
    private readonly statuses = new HttpStatuses(),
    private readonly options: HttpErrorsOptions = {},
  ) {}

  catch(error: unknown, host: ArgumentsHost): void | Observable<never> {
    if (host.getType() !== 'http') return this.rpc.catch(error, host);
    const { status, body, headers } = this.answer(error);
    void host.switchToHttp().getResponse<FastifyReply>().code(status).headers(headers).send(body);
  }

  /** The answer to `error`, for filters that render it otherwise (as a page). */
  answer(error: unknown): HttpErrorAnswer {
    if (error instanceof DomainError) {
      const status = this.statuses.of(error);
      if (status === undefined) {
        this.logger.error(`${error.name} (${error.code}) has no HTTP status listed`, error.stack);
        return INTERNAL;
      }
      return { status, body: errorReplyOf(error), headers: this.headersOf(error) };
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      return { status, body: { error: httpCode(status), message: error.message }, headers: {} };
    }
    this.logger.error(
      error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      error instanceof Error ? error.stack : undefined,
    );
    return INTERNAL;
  }

  private headersOf(error: DomainError): Record<string, string> {
    const headers = { ...this.options.headers?.(error) };
    // An error that says when to come back says it in the header too (RFC 9110 10.2.3).
    const retryAfter = error.details.retry_after;
    if (typeof retryAfter === 'number') headers['Retry-After'] = String(retryAfter);
    return headers;
  }
}

/**
 * Global (`app.useGlobalFilters`): the errors Fastify and Nest raise before a controller runs (an unknown
 * route, malformed JSON, a body too large), in the same shape. It catches only HTTP exceptions, so that a
 * message that breaks its contract still reaches the dead-letter filter; on the bus it answers like the
 * message filters.
 */
@Catch(HttpException)
export class FrameworkErrorsFilter extends HttpErrorsFilter {}

function httpCode(status: number): string {
  if (status === 404) return 'not_found';
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 413) return 'payload_too_large';
  return status >= 500 ? 'internal_error' : 'request_failed';
}
