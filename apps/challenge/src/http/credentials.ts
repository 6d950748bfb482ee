// What a request to this service presents, as pure functions over its headers: the credentials of its
// Authorization header (RFC 6750 Bearer or RFC 9449 DPoP), whether a token's key binding holds, and the device
// the gateway vouches for. The gateway verifies DPoP proofs and strips every x-stepgate-* header clients send,
// then sets `x-stepgate-dpop-jkt` (the proof's key) and `x-stepgate-device-source`; this service checks that
// what it is told is consistent and that a key-bound token comes with its key, never more.
import type { IncomingHttpHeaders } from 'node:http';
import { DEVICE_SOURCES, type DeviceSource } from '@stepgate/contracts';
import { authorizationOf, dpopDeviceId, isDpopDeviceId, isJkt, wwwAuthenticate } from '@stepgate/identity';
import { InvalidRequest } from '@stepgate/observability';
import { AuthenticationFailed, MalformedCredentials } from './http.errors';

export type Scheme = 'Bearer' | 'DPoP';

export interface Credentials {
  scheme: Scheme;
  token: string;
}

export interface DeviceContext {
  deviceId: string | null;
  deviceSource: DeviceSource | null;
  /** The thumbprint of the DPoP key whose proof the gateway verified for this request. */
  dpopJkt: string | null;
}

export const DPOP_JKT_HEADER = 'x-stepgate-dpop-jkt';
export const DEVICE_SOURCE_HEADER = 'x-stepgate-device-source';
const DEVICE_HEADER = 'x-device-id';

const DEVICE_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The credentials of the request's Authorization header, given every value it carried (Node keeps only the
 * first of repeated Authorization headers in `headers`; `headersDistinct` has them all).
 */
export function credentialsOf(values: readonly string[] | undefined): Credentials {
  let auth: ReturnType<typeof authorizationOf>;
  try {
    auth = authorizationOf(values);
  } catch {
    const meant: Scheme = values?.some((v) => /^\s*dpop\b/i.test(v)) ? 'DPoP' : 'Bearer';
    throw malformed(
      meant,
      values && values.length > 1 ? 'more than one Authorization header' : 'malformed Authorization header',
    );
  }
  if (auth === null) throw missing();
  return { scheme: auth.scheme === 'dpop' ? 'DPoP' : 'Bearer', token: auth.token };
}

/**
 * RFC 9449 7.1: a token bound to a key (`cnf.jkt`) is good only as `DPoP` with a proof of that key, which the
 * gateway verified and names in `x-stepgate-dpop-jkt`; the DPoP scheme needs a token bound to that key.
 */
export function assertBoundTo(tokenJkt: string | null, credentials: Credentials, verifiedJkt: string | null) {
  if (credentials.scheme === 'Bearer') {
    if (tokenJkt !== null)
      throw invalidDpopToken('a DPoP-bound token is only accepted with the DPoP scheme and a proof');
    if (verifiedJkt !== null) throw malformed('Bearer', 'a verified DPoP key came with a Bearer token');
    return;
  }
  if (verifiedJkt === null) throw invalidDpopToken('the DPoP scheme needs a verified DPoP proof');
  if (tokenJkt === null) throw invalidDpopToken('the token is not bound to a DPoP key');
  if (tokenJkt !== verifiedJkt) throw invalidDpopToken('the token is bound to another DPoP key');
}

/**
 * The device and its source. A `dpop:<jkt>` device is the verified key's and nothing else's, so no client
 * names a key-bound device without the key; without a source from the gateway, a device id is what the
 * client said (`header`).
 */
export function deviceContextOf(headers: IncomingHttpHeaders): DeviceContext {
  const device = headers[DEVICE_HEADER];
  const deviceId = typeof device === 'string' && DEVICE_ID.test(device) ? device : null;
  const dpopJkt = verifiedJktOf(headers);

  const sourceHeader = headers[DEVICE_SOURCE_HEADER];
  let deviceSource: DeviceSource | null;
  if (sourceHeader === undefined) {
    deviceSource = dpopJkt !== null ? 'dpop' : deviceId !== null ? 'header' : null;
  } else {
    const known = DEVICE_SOURCES.find((s) => s === sourceHeader);
    if (known === undefined)
      throw new InvalidRequest(`${DEVICE_SOURCE_HEADER} must be one of ${DEVICE_SOURCES.join(', ')}`);
    deviceSource = known;
  }

  const keyBound = isDpopDeviceId(deviceId) || deviceSource === 'dpop';
  if (dpopJkt !== null || keyBound) {
    if (dpopJkt === null || deviceId !== dpopDeviceId(dpopJkt) || deviceSource !== 'dpop')
      throw new InvalidRequest('a DPoP device is the key of a verified DPoP proof, and only that');
  }
  return { deviceId, deviceSource: deviceId === null ? null : deviceSource, dpopJkt };
}

/** The key of the DPoP proof the gateway verified for this request, or null. */
export function verifiedJktOf(headers: IncomingHttpHeaders): string | null {
  const value = headers[DPOP_JKT_HEADER];
  if (value === undefined) return null;
  if (typeof value !== 'string' || !isJkt(value))
    throw new InvalidRequest(`${DPOP_JKT_HEADER} must be one RFC 7638 thumbprint`);
  return value;
}

const missing = () =>
  new AuthenticationFailed('unauthorized', 'a bearer token is required', 'Bearer realm="stepgate"');

const malformed = (scheme: Scheme, reason: string) =>
  new MalformedCredentials(reason, challenge(scheme, 'invalid_request', reason));

const invalidDpopToken = (reason: string) =>
  new AuthenticationFailed('invalid_token', reason, challenge('DPoP', 'invalid_token', reason));

/** An invalid token under its scheme: 401 with `error="invalid_token"`. */
export const invalidToken = (scheme: Scheme, reason: string) =>
  new AuthenticationFailed('invalid_token', reason, challenge(scheme, 'invalid_token', reason));

/**
 * An RFC 6750 / RFC 9449 challenge. Descriptions are this service's own fixed sentences (a verifier's message
 * included), never a client's input: they end up in a response header.
 */
function challenge(scheme: Scheme, error: string, description: string): string {
  return wwwAuthenticate({ scheme, realm: 'stepgate', error, errorDescription: description });
}
