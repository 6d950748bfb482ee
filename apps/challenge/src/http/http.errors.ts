import { DomainError, type HttpStatusList } from '@stepgate/observability';

/**
 * A refused credential, with the `WWW-Authenticate` challenge the filters send with it (RFC 6750 3, RFC 9449
 * 7.1). A malformed Authorization header is a MalformedCredentials: its status differs.
 */
export class AuthenticationFailed extends DomainError {
  constructor(
    code: 'unauthorized' | 'invalid_token' | 'invalid_request',
    reason: string,
    readonly wwwAuthenticate: string,
  ) {
    super(code, reason);
  }
}

/** An Authorization header that is not one credential of a known scheme (RFC 6750 3.1: 400, not 401). */
export class MalformedCredentials extends AuthenticationFailed {
  constructor(reason: string, wwwAuthenticate: string) {
    super('invalid_request', reason, wwwAuthenticate);
  }
}

export class DeviceIdRequired extends DomainError {
  constructor() {
    super('device_id_required', 'the X-Device-Id header is required and must be 1-128 printable characters');
  }
}

export class CsrfRejected extends DomainError {
  constructor(reason: string) {
    super('csrf_failed', reason);
  }
}

export const CALLER_HTTP_STATUSES: HttpStatusList = [
  [AuthenticationFailed, 401],
  [MalformedCredentials, 400],
  [DeviceIdRequired, 400],
  [CsrfRejected, 403],
];
