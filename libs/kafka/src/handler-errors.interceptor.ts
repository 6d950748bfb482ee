// Nest's RPC exception layer hands the transport `{ status: 'error', message: 'Internal server error' }` for
// any error it does not know, but the Kafka server needs the error itself to tell a fault of the message from
// an outage of what the handler depends on (handler-faults.ts). This interceptor, inside that layer, keeps the
// error of each failed message handler for the server to read back.
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { KafkaContext } from '@nestjs/microservices';
import { catchError, type Observable, throwError } from 'rxjs';

const failures = new WeakMap<object, unknown>();

/**
 * What the handler threw, for the call whose context (or, for Nest's KafkaContext, whose heartbeat function)
 * is `key`; else what the transport was given.
 */
export function handlerError(key: object, reported: unknown): unknown {
  return failures.has(key) ? failures.get(key) : reported;
}

@Injectable()
export class HandlerErrors implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const rpc: unknown = context.switchToRpc().getContext();
    if (typeof rpc !== 'object' || rpc === null) return next.handle();
    // Nest builds its KafkaContext inside the server; the heartbeat function in it is the server's own.
    const key = rpc instanceof KafkaContext ? rpc.getHeartbeat() : rpc;
    return next.handle().pipe(
      catchError((err: unknown) => {
        failures.set(key, err);
        return throwError(() => err);
      }),
    );
  }
}
