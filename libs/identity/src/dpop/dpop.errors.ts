// Errors of DPoP and Authorization-header checks. Messages are fixed sentences, safe for `error_description`:
// nothing a client sent is ever echoed (it ends up in a response header).

/**
 * RFC 6750 / RFC 9449 error codes, each answered with 401 and a `WWW-Authenticate` challenge (see
 * `wwwAuthenticate`); `invalid_request` may also be answered with 400.
 */
export type DpopErrorCode = 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce';

export class DpopError extends Error {
  constructor(
    readonly code: DpopErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DpopError';
  }
}

/**
 * The replay store could not say whether a proof is fresh (database down or slow, memory store full of live
 * entries). The caller must fail closed and answer 503, never admit the proof and never answer 500.
 */
export class ReplayStoreUnavailableError extends Error {
  readonly code = 'replay_store_unavailable';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplayStoreUnavailableError';
  }
}
