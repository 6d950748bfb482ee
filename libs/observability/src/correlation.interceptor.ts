// Enters the correlation id of each inbound message (its `correlationId` field) or internal HTTP request (the
// X-Correlation-Id header the gateway sets) before the handler runs, so that its log lines name it.
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { withCorrelationId } from './correlation';

/** The contracts' id: what is longer or empty is not a correlation id (it is read before validation). */
const MAX_ID_LENGTH = 128;

function usable(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH ? value : undefined;
}

@Injectable()
export class CorrelationInterceptor implements NestInterceptor {
  /**
   * `header`: also read the header of HTTP requests. Only for services behind the gateway, which replaces
   * whatever a client sent; the gateway's own endpoints must not take a client's word for it.
   */
  constructor(private readonly from: 'message' | 'header' = 'message') {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const id = this.idOf(context);
    if (id === undefined) return next.handle();
    // Nest binds the handler to the async context in which `handle()` is called: call it inside.
    return new Observable((subscriber) => withCorrelationId(id, () => next.handle().subscribe(subscriber)));
  }

  private idOf(context: ExecutionContext): string | undefined {
    const type = context.getType();
    if (type === 'rpc' && this.from === 'message') {
      const data: unknown = context.switchToRpc().getData();
      return typeof data === 'object' && data !== null && !Array.isArray(data)
        ? usable((data as { correlationId?: unknown }).correlationId)
        : undefined;
    }
    if (type === 'http' && this.from === 'header') {
      const req = context.switchToHttp().getRequest<{ headers?: Record<string, unknown> }>();
      return usable(req.headers?.['x-correlation-id']);
    }
    return undefined;
  }
}
