import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { defer, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { correlationId } from './correlation';
import { CorrelationInterceptor } from './correlation.interceptor';

function rpc(data: unknown): ExecutionContext {
  return {
    getType: () => 'rpc',
    switchToRpc: () => ({ getData: () => data }),
  } as unknown as ExecutionContext;
}

function http(headers: Record<string, unknown>): ExecutionContext {
  return {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => ({ headers }) }),
  } as unknown as ExecutionContext;
}

/** A handler that reports the correlation id it sees after an await, as a service would log it. */
const handler: CallHandler = {
  handle: () =>
    defer(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return correlationId();
    }),
};

const seen = (sut: CorrelationInterceptor, context: ExecutionContext) =>
  firstValueFrom(sut.intercept(context, handler));

describe(CorrelationInterceptor.name, () => {
  it("runs a message's handler with the message's correlation id", async () => {
    const sut = new CorrelationInterceptor('message');
    expect(await seen(sut, rpc({ correlationId: 'c-1', subject: 'alice' }))).toBe('c-1');
    expect(await seen(sut, rpc([{ correlationId: 'c-1' }]))).toBeUndefined();
    expect(await seen(sut, rpc({ correlationId: 'x'.repeat(129) }))).toBeUndefined();
    expect(await seen(sut, rpc('c-1'))).toBeUndefined();
    expect(await seen(sut, http({ 'x-correlation-id': 'c-2' }))).toBeUndefined();
  });

  it('reads the header of HTTP requests only when told the gateway sets it', async () => {
    const sut = new CorrelationInterceptor('header');
    expect(await seen(sut, http({ 'x-correlation-id': 'c-2' }))).toBe('c-2');
    expect(await seen(sut, http({}))).toBeUndefined();
    expect(await seen(sut, rpc({ correlationId: 'c-1' }))).toBeUndefined();
  });
});
