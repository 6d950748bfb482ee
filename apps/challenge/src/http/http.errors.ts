import { DomainError } from '@stepgate/observability';

/**
 * A refused credential: 401 (or 400 for a malformed Authorization header, RFC 6750 3.1) with the
 * `WWW-Authenticate` challenge the filters send with it.
 */
export class AuthenticationFailed extends DomainError {
  constructor(
    code: 'unauthorized' | 'invalid_token' | 'invalid_request',
    reason: string,
    readonly wwwAuthenticate: string,
  ) {
    super(code, reason, code === 'invalid_request' ? 400 : 401);
  }
}

export class InvalidRequest extends DomainError {
  constructor(reason: string) {
    super('invalid_request', reason, 400);
  }
}

export class DeviceIdRequired extends DomainError {
  constructor() {
    super(
      'device_id_required',
      'the X-Device-Id header is required and must be 1-128 printable characters',
      400,
    );
  }
}

export class CsrfRejected extends DomainError {
  constructor(reason: string) {
    super('csrf_failed', reason, 403);
  }
}
