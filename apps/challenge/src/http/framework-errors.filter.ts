// Errors Fastify and Nest raise before a controller runs (malformed JSON, unknown route, body too large)
// answered in the same `{ error, message }` shape as everything else. Global, but only for HttpException:
// it must not shadow the dead-letter filter on the message side, and hands RPC cases to Nest's default.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import { BaseRpcExceptionFilter } from '@nestjs/microservices';
import { HttpExceptionFilter } from '@stepgate/observability';
import type { Observable } from 'rxjs';

@Catch(HttpException)
export class FrameworkErrorsFilter implements ExceptionFilter<HttpException> {
  private readonly http = new HttpExceptionFilter();
  private readonly rpc = new BaseRpcExceptionFilter();

  catch(error: HttpException, host: ArgumentsHost): void | Observable<unknown> {
    if (host.getType() === 'http') return this.http.catch(error, host);
    return this.rpc.catch(error, host);
  }
}
