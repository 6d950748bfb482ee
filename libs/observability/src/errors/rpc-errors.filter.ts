// How a message handler's domain error is answered on the bus: a request's reply is the error, in the same
// `{ error, message, ...details }` shape as an HTTP body, so a caller can tell a refusal from an outage.
// Bound on the controllers that answer requests (an event has no one to answer). It catches only domain
// errors: a message that breaks its contract must still reach the dead-letter filter, and anything else gets
// Nest's answer, which says nothing of internals ('Internal server error') and logs the error. The Kafka
// server reads the handler's own error back for its redelivery decision (libs/kafka
// handler-errors.interceptor.ts), whatever this filter answers.
import { type ArgumentsHost, Catch } from '@nestjs/common';
import { BaseRpcExceptionFilter } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';
import { DomainError } from './domain.error';

export interface ErrorReply {
  error: string;
  message: string;
  [detail: string]: unknown;
}

export function errorReplyOf(error: DomainError): ErrorReply {
  return { error: error.code, message: error.message, ...error.details };
}

@Catch(DomainError)
export class RpcErrorsFilter extends BaseRpcExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost): Observable<never> {
    if (error instanceof DomainError) return throwError(() => errorReplyOf(error));
    return super.catch(error, host) as Observable<never>;
  }
}
