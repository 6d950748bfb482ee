import { describe, expect, it } from 'vitest';
import { assertBoundTo, credentialsOf, deviceContextOf } from './credentials';
import { InvalidRequest } from '@stepgate/observability';
import { challengeHttpErrors } from './challenge-errors.filter';
import { AuthenticationFailed } from './http.errors';

const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const OTHER = 'AAAAsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

/** The refusal as the API answers it: its status, its code and its challenge. */
function refusal(fn: () => unknown): { status: number; code: string; wwwAuthenticate: string } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof AuthenticationFailed)) throw err;
    const { status } = challengeHttpErrors.answer(err);
    return { status, code: err.code, wwwAuthenticate: err.wwwAuthenticate };
  }
  throw new Error('not refused');
}

describe(credentialsOf.name, () => {
  it('reads Bearer and DPoP credentials, the scheme in any case', () => {
    expect(credentialsOf(['Bearer abc.def-_~+/ghi=='])).toEqual({
      scheme: 'Bearer',
      token: 'abc.def-_~+/ghi==',
    });
    expect(credentialsOf(['bearer x'])).toEqual({ scheme: 'Bearer', token: 'x' });
    expect(credentialsOf(['DPoP x.y.z'])).toEqual({ scheme: 'DPoP', token: 'x.y.z' });
    expect(credentialsOf(['dpop x'])).toEqual({ scheme: 'DPoP', token: 'x' });
  });

  it('asks for a token when there is none, or another scheme', () => {
    for (const values of [undefined, [], ['Basic YWxpY2U6c2VjcmV0'], ['Negotiate']]) {
      const e = refusal(() => credentialsOf(values));
      expect(e).toMatchObject({ status: 401, code: 'unauthorized' });
      expect(e.wwwAuthenticate).toBe('Bearer realm="stepgate"');
    }
  });

  it('answers a malformed or repeated header with 400 invalid_request, in the scheme the client meant', () => {
    for (const [values, scheme] of [
      [['Bearer'], 'Bearer'],
      [['Bearer '], 'Bearer'],
      [['Bearer a b'], 'Bearer'],
      [['Bearer  a'], 'Bearer'],
      [['Bearer a,b'], 'Bearer'],
      [['DPoP'], 'DPoP'],
      [['DPoP "quoted"'], 'DPoP'],
      [[`DPoP ${'a'.repeat(9000)}`], 'DPoP'],
      [['Bearer a', 'Bearer b'], 'Bearer'],
    ] as const) {
      const e = refusal(() => credentialsOf(values));
      expect(e, String(values)).toMatchObject({ status: 400, code: 'invalid_request' });
      expect(e.wwwAuthenticate).toMatch(new RegExp(`^${scheme} realm="stepgate", error="invalid_request"`));
    }
  });
});

describe(assertBoundTo.name, () => {
  it('lets an unbound token through as a Bearer, and a bound one as DPoP with its own key', () => {
    expect(() => assertBoundTo(null, { scheme: 'Bearer', token: 't' }, null)).not.toThrow();
    expect(() => assertBoundTo(JKT, { scheme: 'DPoP', token: 't' }, JKT)).not.toThrow();
  });

  it('refuses a bound token as a Bearer, without the verified key, or with another key (RFC 9449 7.1)', () => {
    for (const [jkt, scheme, verified] of [
      [JKT, 'Bearer', null],
      [JKT, 'Bearer', JKT],
      [JKT, 'DPoP', null],
      [JKT, 'DPoP', OTHER],
      // The DPoP scheme with a token bound to nothing.
      [null, 'DPoP', JKT],
      [null, 'DPoP', null],
    ] as const) {
      const e = refusal(() => assertBoundTo(jkt, { scheme, token: 't' }, verified));
      expect(e, `${jkt} ${scheme} ${verified}`).toMatchObject({ status: 401, code: 'invalid_token' });
      expect(e.wwwAuthenticate).toMatch(
        /^DPoP realm="stepgate", error="invalid_token", error_description="[^"]+"$/,
      );
    }
  });

  it('refuses a verified key beside a plain Bearer token: only the gateway sets it, for DPoP requests', () => {
    expect(refusal(() => assertBoundTo(null, { scheme: 'Bearer', token: 't' }, JKT))).toMatchObject({
      status: 400,
      code: 'invalid_request',
    });
  });
});

describe(deviceContextOf.name, () => {
  it("takes an API client's device from X-Device-Id, its source from the gateway", () => {
    expect(deviceContextOf({ 'x-device-id': 'laptop' })).toEqual({
      deviceId: 'laptop',
      deviceSource: 'header',
      dpopJkt: null,
    });
    expect(deviceContextOf({ 'x-device-id': 'b-abc', 'x-stepgate-device-source': 'cookie' })).toEqual({
      deviceId: 'b-abc',
      deviceSource: 'cookie',
      dpopJkt: null,
    });
    expect(deviceContextOf({})).toEqual({ deviceId: null, deviceSource: null, dpopJkt: null });
    expect(deviceContextOf({ 'x-device-id': 'a'.repeat(129) }).deviceId).toBeNull();
  });

  it("takes a DPoP client's device from its verified key", () => {
    expect(
      deviceContextOf({
        'x-device-id': `dpop:${JKT}`,
        'x-stepgate-device-source': 'dpop',
        'x-stepgate-dpop-jkt': JKT,
      }),
    ).toEqual({ deviceId: `dpop:${JKT}`, deviceSource: 'dpop', dpopJkt: JKT });
  });

  it('refuses a key-bound device without its key, and a key beside another device', () => {
    for (const headers of [
      { 'x-device-id': `dpop:${JKT}` },
      { 'x-device-id': `dpop:${JKT}`, 'x-stepgate-device-source': 'dpop' },
      { 'x-device-id': 'laptop', 'x-stepgate-device-source': 'dpop' },
      { 'x-device-id': 'laptop', 'x-stepgate-dpop-jkt': JKT },
      { 'x-device-id': `dpop:${OTHER}`, 'x-stepgate-dpop-jkt': JKT },
      { 'x-device-id': `dpop:${JKT}`, 'x-stepgate-device-source': 'header', 'x-stepgate-dpop-jkt': JKT },
      { 'x-device-id': `dpop:${JKT}`, 'x-stepgate-dpop-jkt': `${JKT}, ${JKT}` },
      { 'x-device-id': 'laptop', 'x-stepgate-device-source': 'radio' },
      { 'x-device-id': 'laptop', 'x-stepgate-dpop-jkt': 'short' },
    ]) {
      expect(() => deviceContextOf(headers), JSON.stringify(headers)).toThrow(InvalidRequest);
    }
  });
});
