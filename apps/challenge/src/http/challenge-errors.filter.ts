// How this service's API answers its errors: the status of each (listed beside the errors), and the
// WWW-Authenticate challenge of a refused credential. Pages render the same answers (PageErrorsFilter).
import { HttpErrorsFilter, HttpStatuses } from '@stepgate/observability';
import { CHALLENGE_HTTP_STATUSES } from '../challenges/challenge.errors';
import { FACTOR_HTTP_STATUSES } from '../factors/factor.errors';
import { AuthenticationFailed, CALLER_HTTP_STATUSES } from './http.errors';

export const challengeHttpStatuses = new HttpStatuses(
  CALLER_HTTP_STATUSES,
  CHALLENGE_HTTP_STATUSES,
  FACTOR_HTTP_STATUSES,
);

export const challengeHttpErrors = new HttpErrorsFilter(challengeHttpStatuses, {
  headers: (error) =>
    error instanceof AuthenticationFailed ? { 'WWW-Authenticate': error.wwwAuthenticate } : undefined,
});
