// The HTTP status of each domain error, by class: two errors may share a code and not a status (a wrong code
// for a challenge is 401, for activating a factor 400), and a subclass answers like its parent unless it is
// listed itself.
import {
  DomainError,
  Forbidden,
  InvalidRequest,
  NotFound,
  Unauthenticated,
  Unavailable,
} from './domain.error';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any constructor: the classes take what they take
export type DomainErrorClass = abstract new (...args: any[]) => DomainError;

/** `[ErrorClass, status]` pairs, declared beside the errors they list. */
export type HttpStatusList = readonly (readonly [DomainErrorClass, number])[];

const COMMON: HttpStatusList = [
  [InvalidRequest, 400],
  [Unauthenticated, 401],
  [Forbidden, 403],
  [NotFound, 404],
  [Unavailable, 503],
];

export class HttpStatuses {
  private readonly byClass = new Map<unknown, number>();

  /** The common errors' statuses, and those of `lists` (a later entry for the same class wins). */
  constructor(...lists: HttpStatusList[]) {
    for (const [type, status] of [COMMON, ...lists].flat()) this.byClass.set(type, status);
  }

  /** The status of the error's class or of its nearest listed ancestor; undefined when none is listed. */
  of(error: DomainError): number | undefined {
    for (let p: unknown = Object.getPrototypeOf(error); p && p !== DomainError.prototype;) {
      const status = this.byClass.get((p as { constructor: unknown }).constructor);
      if (status !== undefined) return status;
      p = Object.getPrototypeOf(p);
    }
    return undefined;
  }
}
