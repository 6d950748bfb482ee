import { DomainError } from '@stepgate/observability';

export class Unauthorized extends DomainError {
  constructor(reason: string) {
    super('unauthorized', reason, 401);
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
