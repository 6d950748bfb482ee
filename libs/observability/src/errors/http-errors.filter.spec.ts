import { type ArgumentsHost, BadRequestException, Logger, NotFoundException } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { DomainError, InvalidRequest, NotFound } from './domain.error';
import { HttpErrorsFilter } from './http-errors.filter';
import { HttpStatuses } from './http-statuses';
import { RpcErrorsFilter } from './rpc-errors.filter';
import { invalidRequestListing, ZodBody } from './zod-body.pipe';

class WrongCode extends DomainError {
  constructor(attemptsLeft: number) {
    super('invalid_code', 'the code is wrong', { attempts_left: attemptsLeft });
  }
}
class WrongActivationCode extends DomainError {
  constructor() {
    super('invalid_code', 'the code is wrong');
  }
}
class SlowDown extends DomainError {
  constructor() {
    super('too_many_attempts', 'wait', { retry_after: 30 });
  }
}
class NoSuchVersion extends NotFound {}
class Unlisted extends DomainError {}

function silenceLogs() {
  return vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
}

describe(HttpErrorsFilter.name, () => {
  afterEach(() => vi.restoreAllMocks());

  const sut = new HttpErrorsFilter(
    new HttpStatuses([
      [WrongCode, 401],
      [WrongActivationCode, 400],
      [SlowDown, 429],
    ]),
    { headers: (e) => (e instanceof WrongCode ? { 'WWW-Authenticate': 'Bearer' } : undefined) },
  );

  it('answers a domain error with its listed status, its code, message and details', () => {
    expect(sut.answer(new WrongCode(2))).toEqual({
      status: 401,
      body: { error: 'invalid_code', message: 'the code is wrong', attempts_left: 2 },
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
    // The same code, another class: another status.
    expect(sut.answer(new WrongActivationCode()).status).toBe(400);
  });

  it('knows the common errors, and a subclass answers like its nearest listed ancestor', () => {
    expect(sut.answer(new InvalidRequest('bad', { problems: ['x'] }))).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', message: 'bad', problems: ['x'] },
    });
    expect(sut.answer(new NoSuchVersion('there is no version 9'))).toMatchObject({
      status: 404,
      body: { error: 'not_found', message: 'there is no version 9' },
    });
  });

  it('says when to come back in Retry-After when the error does', () => {
    expect(sut.answer(new SlowDown()).headers).toEqual({ 'Retry-After': '30' });
  });

  it("answers Nest's HTTP exceptions in the same shape", () => {
    expect(sut.answer(new NotFoundException('Cannot GET /x'))).toEqual({
      status: 404,
      body: { error: 'not_found', message: 'Cannot GET /x' },
      headers: {},
    });
    expect(sut.answer(new BadRequestException('Unexpected token')).body.error).toBe('invalid_request');
  });

  it('hides what went wrong in a 500, and logs it', () => {
    const log = silenceLogs();
    const internal = {
      status: 500,
      body: { error: 'internal_error', message: 'internal error' },
      headers: {},
    };
    expect(sut.answer(new Error('password authentication failed for user "risk"'))).toEqual(internal);
    expect(log).toHaveBeenLastCalledWith(
      'Error: password authentication failed for user "risk"',
      expect.stringContaining('Error'),
    );
    // A domain error nobody gave a status is a bug, not the caller's problem.
    expect(sut.answer(new Unlisted('odd', 'odd'))).toEqual(internal);
    expect(log).toHaveBeenLastCalledWith('Unlisted (odd) has no HTTP status listed', expect.any(String));
  });
});

describe(RpcErrorsFilter.name, () => {
  afterEach(() => vi.restoreAllMocks());
  const host = { getType: () => 'rpc' } as unknown as ArgumentsHost;

  it('replies to a domain error with its code, message and details', async () => {
    await expect(lastValueFrom(new RpcErrorsFilter().catch(new WrongCode(1), host))).rejects.toEqual({
      error: 'invalid_code',
      message: 'the code is wrong',
      attempts_left: 1,
    });
  });

  it("leaves anything else to Nest's answer, which says nothing of it", async () => {
    silenceLogs();
    await expect(lastValueFrom(new RpcErrorsFilter().catch(new Error('secret'), host))).rejects.toEqual({
      status: 'error',
      message: 'Internal server error',
    });
  });
});

describe(ZodBody.name, () => {
  const schema = z.strictObject({ code: z.string().regex(/^\d{6}$/) });

  it('passes the parsed body on', () => {
    expect(new ZodBody(schema).transform({ code: '123456' })).toEqual({ code: '123456' });
  });

  it('refuses a body that does not parse with every problem and its path', () => {
    expect(() => new ZodBody(schema).transform({ code: 'x', extra: 1 })).toThrow(InvalidRequest);
    try {
      new ZodBody(schema).transform(undefined);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/^\(root\): /) });
    }
  });

  it('words the refusal as told, e.g. listing each problem', () => {
    try {
      new ZodBody(schema, invalidRequestListing).transform({ code: 'x' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidRequest);
      expect((err as InvalidRequest).details).toEqual({ problems: [expect.stringMatching(/^code: /)] });
    }
  });
});
