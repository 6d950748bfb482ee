// What crosses the gateway's request stages: the facts a request's access record is made of, and the answer a
// stage decides on. Stages return these; none writes into a shared outcome.
import type { IncomingMessage } from 'node:http';
import {
  clientReasons,
  type AccessDecision,
  type DeviceSource,
  type RiskAssessment,
} from '@stepgate/contracts';
import type { VerifiedToken } from '@stepgate/identity';
import type { Session } from '../../auth/session';
import type { ForwardRequest } from '../upstream.forwarder';

/** One request as it arrived: who sent it from where, and when. */
export interface RequestContext {
  readonly raw: IncomingMessage;
  readonly correlationId: string;
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  /** performance.now() when the request arrived. */
  readonly started: number;
}

/** What the access event and log line say about a request, whatever its fate. */
export interface AccessFacts {
  readonly decision: AccessDecision;
  readonly reason: string;
  readonly route: string | null;
  readonly token: VerifiedToken | null;
  readonly deviceId: string | null;
  readonly deviceSource: DeviceSource | null;
  readonly risk: RiskAssessment | null;
  /** A monitor-mode route forwarded what enforcement would have stepped up or denied. */
  readonly monitored: boolean;
  /** Allowed because the token satisfied the step-up the level asks for. */
  readonly steppedUp: boolean;
  readonly path: string | null;
  readonly host: string | null;
  /** The policy version the request was judged under (null: the config file's, before any version arrived). */
  readonly policyVersion: number | null;
}

/** The facts of a request nothing has been learnt about yet: refused unless a stage says otherwise. */
export function initialFacts(policyVersion: number | null): AccessFacts {
  return {
    decision: 'deny',
    reason: 'rejected',
    route: null,
    token: null,
    deviceId: null,
    deviceSource: null,
    risk: null,
    monitored: false,
    steppedUp: false,
    path: null,
    host: null,
    policyVersion,
  };
}

/** An answer the gateway writes itself. */
export interface Respond {
  readonly kind: 'respond';
  readonly status: number;
  readonly headers?: Record<string, string | string[]>;
  /** JSON, or the bytes of an answer relayed as it came. */
  readonly body?: unknown;
}

/** A browser's challenge verification: on success the stepped-up token goes into a new session. */
export interface Elevation {
  readonly session: Session;
  readonly deviceId: string;
  readonly returnTo: string;
  readonly html: boolean;
}

/** The request goes to an upstream (a browser's challenge verification comes back to be elevated). */
export interface Forward {
  readonly kind: 'forward';
  readonly forward: ForwardRequest;
  readonly elevate?: Elevation;
}

export type Answer = Respond | Forward;

/** What the pipeline decided: the answer, the facts for the access record, and cookies for the client. */
export interface Judgement {
  readonly answer: Answer;
  readonly facts: AccessFacts;
  /** Set-Cookie values for the answer (device cookie, refreshed, replaced or cleared session). */
  readonly cookies: readonly string[];
}

/** A stage that stops the request: its answer, and what it learnt about the request on the way. */
export interface Stop {
  readonly stop: Respond;
  readonly facts: Partial<AccessFacts>;
}

export function isStop<T extends object>(value: T | Stop): value is Stop {
  return 'stop' in value;
}

export function respond(
  status: number,
  body?: unknown,
  headers?: Record<string, string | string[]>,
): Respond {
  return headers ? { kind: 'respond', status, headers, body } : { kind: 'respond', status, body };
}

/** 401 in the Bearer scheme (RFC 6750), with the error and its description when there is one. */
export function unauthenticated(reason: string, error: string | null, message: string): Stop {
  const challenge = error
    ? `Bearer realm="stepgate", error="${error}", error_description="${quotable(message)}"`
    : 'Bearer realm="stepgate"';
  return {
    stop: respond(401, { error: error ?? 'unauthorized', message }, { 'www-authenticate': challenge }),
    facts: { decision: 'unauthenticated', reason },
  };
}

/**
 * What the client is told about the risk: the score, the level and plain reasons, never the signals'
 * details, which explain with the account's profile (its usual networks, places, browsers).
 */
export function riskBody(a: RiskAssessment | null): {
  score: number | null;
  level: string | null;
  reasons: string[];
} {
  if (!a)
    return { score: null, level: null, reasons: clientReasons([{ name: 'risk_unavailable', weight: 1 }]) };
  return { score: a.score, level: a.level, reasons: clientReasons(a.signals) };
}

/** A value safe inside a quoted header parameter: printable ASCII without quotes or backslashes. */
export function quotable(s: string): string {
  return s.replace(/[^\x20-\x7e]|["\\]/g, '').slice(0, 200);
}

/** Methods that change nothing, so a cookie-borne session may make them from any origin. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
