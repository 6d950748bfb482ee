// StepGate's own API (/.stepgate/factors, /.stepgate/challenges): passed through to the challenge service,
// which authenticates these requests itself. A browser's session stands in for the bearer, and its passed
// verification comes back to the gateway to elevate the session instead of reaching page scripts.
import { dpopDeviceId } from '@stepgate/identity';
import { safeReturnTo } from '@stepgate/redirect';
import { CHALLENGE_UPSTREAM } from '../upstream.forwarder';
import type { AccessFacts, Forward, RequestContext } from './judgement';
import type { Identity } from './identity.stage';
import { forwardTo, type GatewayRequest } from './request.stage';

const CHALLENGE_PATHS = /^\/\.stepgate\/(factors|challenges)(\/|$)/;
const VERIFY_PATH = /^\/\.stepgate\/challenges\/[^/]+\/verify$/;

export const STEPGATE_API_ROUTE = 'stepgate.challenge';

/** The pass-through for a request to StepGate's own API, or null when the request is for a policy route. */
export function stepgateApi(
  ctx: RequestContext,
  req: GatewayRequest,
  who: Identity,
): { answer: Forward; facts: Partial<AccessFacts> } | null {
  if (!CHALLENGE_PATHS.test(req.target.path)) return null;
  const facts = { route: STEPGATE_API_ROUTE, decision: 'allow' as const, reason: 'stepgate api' };
  const { session, browserDevice, credential } = who;
  if (!session || !browserDevice) {
    // The challenge service verifies the token itself; what only the gateway knows it says in
    // x-stepgate-* headers, which no client can send (they are stripped from every request).
    const said: Record<string, string> =
      credential.scheme === 'dpop'
        ? {
            'x-device-id': dpopDeviceId(credential.jkt),
            'x-stepgate-device-source': 'dpop',
            'x-stepgate-dpop-jkt': credential.jkt,
          }
        : who.device.source
          ? { 'x-stepgate-device-source': who.device.source }
          : {};
    return { answer: { kind: 'forward', forward: forwardTo(ctx, req, CHALLENGE_UPSTREAM, said) }, facts };
  }
  // X-StepGate-Browser tells the challenge service the bearer came from a cookie, so it demands its
  // CSRF token; clients cannot send it themselves (x-stepgate-* is stripped from every request).
  const forward = forwardTo(ctx, req, CHALLENGE_UPSTREAM, {
    authorization: `Bearer ${session.raw}`,
    'x-device-id': browserDevice,
    'x-stepgate-device-source': 'cookie',
    'x-stepgate-browser': '1',
  });
  const withSession = { ...facts, token: session.token };
  if (req.method !== 'POST' || !VERIFY_PATH.test(req.target.path) || req.upgrade)
    return { answer: { kind: 'forward', forward }, facts: withSession };
  const returnTo = safeReturnTo(new URLSearchParams(req.target.query.slice(1)).get('return_to')) ?? '/';
  return {
    answer: {
      kind: 'forward',
      forward,
      elevate: { session: session.session, deviceId: browserDevice, returnTo, html: req.html },
    },
    facts: withSession,
  };
}
