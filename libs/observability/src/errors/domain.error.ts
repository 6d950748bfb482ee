// The error model (docs/adr/0021-error-model.md): what went wrong is a domain error with a stable code; how a transport
// says so (an HTTP status and headers, a reply on the bus) belongs to that transport's filter.

/**
 * An error the caller can act on: `code` is stable (clients branch on it), the message is safe to show them,
 * and `details` are extra fields of the answer (`attempts_left`, `retry_after`, `problems`, ...).
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

// The few refusals every service makes in the same words. Errors of one feature live beside that feature.

/** The request does not say what it means: a body, query, parameter or header that does not parse. */
export class InvalidRequest extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_request', message, details);
  }
}

/** The caller did not prove who it is. */
export class Unauthenticated extends DomainError {
  constructor(message: string) {
    super('unauthenticated', message);
  }
}

/** The caller is known, and may not do this. */
export class Forbidden extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

export class NotFound extends DomainError {
  constructor(message: string) {
    super('not_found', message);
  }
}

/** Something this service depends on cannot answer now; trying again later may work. */
export class Unavailable extends DomainError {
  constructor(message: string) {
    super('unavailable', message);
  }
}
