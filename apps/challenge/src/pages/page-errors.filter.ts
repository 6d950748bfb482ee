// Errors on pages are pages too: the same codes and statuses as the API, in words, with a way forward. A
// factor change that needs a step-up offers the button that starts one.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Injectable } from '@nestjs/common';
import { DomainError } from '@stepgate/observability';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StepUpRequired } from '../factors/factor.errors';
import { challengeHttpErrors } from '../http/challenge-errors.filter';
import { CsrfTokens } from '../http/csrf';
import { AuthenticationFailed } from '../http/http.errors';
import { sendPage } from './html';
import { messagePage } from './views';

@Injectable()
@Catch(DomainError, HttpException)
export class PageErrorsFilter implements ExceptionFilter {
  constructor(private readonly csrf: CsrfTokens) {}

  catch(error: DomainError | HttpException, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const answer = challengeHttpErrors.answer(error);
    const status = answer.status;
    const caller = request.stepgateCaller;
    if (error instanceof AuthenticationFailed) void reply.header('WWW-Authenticate', error.wwwAuthenticate);
    if (error instanceof StepUpRequired && caller) {
      const csrfToken = this.csrf.issue(
        {
          subject: caller.token.subject,
          deviceId: caller.deviceId,
          sessionId: caller.token.sessionId,
          scope: 'factors',
        },
        Date.now(),
      );
      const returnTo = request.url.startsWith('/.stepgate/factors/recovery-codes')
        ? '/.stepgate/factors/recovery-codes'
        : '/.stepgate/factors';
      void sendPage(
        reply,
        status,
        messagePage({
          title: 'Confirm it’s you first',
          message: 'Adding or removing a factor needs a recent confirmation with a factor you already have.',
          csrfToken,
          stepUp: { returnTo },
        }),
      );
      return;
    }
    const title =
      status === 401 ? 'Please sign in again' : status === 404 ? 'Not found' : 'Something stopped this';
    const message = error instanceof DomainError ? answer.body.message : 'The request could not be handled.';
    void sendPage(reply, status, messagePage({ title, message: capitalise(message) + '.' }));
  }
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
