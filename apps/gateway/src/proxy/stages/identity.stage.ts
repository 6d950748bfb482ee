// Who is asking: the credential (a bearer or DPoP token, or none), the device and where its id came from,
// and a browser's session; then, once the route is known, the verified token the request speaks with.
import { Inject, Injectable } from '@nestjs/common';
import type { DeviceSource } from '@stepgate/contracts';
import { dpopDeviceId, TokenError, TokenVerifier, type VerifiedToken } from '@stepgate/identity';
import { challengeFor, CredentialError, Credentials, type Credential } from '../../auth/credentials';
import { cookieValue, DEVICE_COOKIE, deviceCookie, deviceOf } from '../../auth/request-identity';
import { sameOrigin } from '../../auth/same-origin';
import { SESSION_COOKIE, SessionCodec, type Session } from '../../auth/session';
import { SessionRevocations } from '../../auth/session-revocations';
import { GATEWAY_CONFIG, type GatewayConfig } from '../../config';
import { respond, SAFE_METHODS, unauthenticated, type RequestContext, type Stop } from './judgement';
import { returnToOf, type GatewayRequest } from './request.stage';

/** A browser's session and the token that speaks for it now (the stepped-up one while it lasts). */
export interface SessionIdentity {
  readonly session: Session;
  readonly token: VerifiedToken;
  /** The token as sent: what the challenge service is given as the bearer. */
  readonly raw: string;
}

/** What the request says about who sends it, before any route is matched. */
export interface Identity {
  readonly credential: Credential;
  /** The device the request names (a DPoP key, X-Device-Id or the device cookie), and where from. */
  readonly device: { readonly deviceId: string | null; readonly source: DeviceSource | null };
  /** The browser's device cookie (or the one issued now): a session's device, whatever X-Device-Id says. */
  readonly browserDevice: string | null;
  readonly session: SessionIdentity | null;
  /** The device the request is judged for: the browser's under a session, else the one it names. */
  readonly deviceId: string | null;
  readonly deviceSource: DeviceSource | null;
  /** Set-Cookie values this stage decided on (a new device cookie; a refreshed or cleared session). */
  readonly cookies: readonly string[];
}

@Injectable()
export class IdentityStage {
  private readonly publicOrigin: string | null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly verifier: TokenVerifier,
    private readonly credentials: Credentials,
    private readonly sessions: SessionCodec,
    private readonly revocations: SessionRevocations,
  ) {
    const publicUrl = config.gateway.signIn?.publicUrl;
    this.publicOrigin = publicUrl ? new URL(publicUrl).origin : null;
  }

  /** Throws InvalidDeviceId for an X-Device-Id outside its alphabet (a 400). */
  async identify(ctx: RequestContext, req: GatewayRequest, now: number): Promise<Identity | Stop> {
    const headers = ctx.raw.headers;
    let credential: Credential;
    try {
      credential = await this.credentials.of(ctx.raw, this.requestUrl(ctx, req), now);
    } catch (err) {
      if (err instanceof CredentialError) return this.refused(err);
      throw err;
    }
    // A DPoP client's device is its key, whatever X-Device-Id says: a copied header names no key.
    const device =
      credential.scheme === 'dpop'
        ? { deviceId: dpopDeviceId(credential.jkt), source: 'dpop' as const, issueCookie: null }
        : deviceOf(headers, req.html);
    const cookies: string[] = device.issueCookie ? [deviceCookie(device.issueCookie)] : [];
    // Browsers without an Authorization header are identified by their session; the device is then the
    // device cookie, whatever a script put in X-Device-Id.
    const browserDevice = cookieValue(headers.cookie, DEVICE_COOKIE) ?? device.issueCookie;
    const session =
      headers.authorization === undefined && headers.cookie?.includes(SESSION_COOKIE)
        ? await this.sessionIdentity(ctx, browserDevice, now, cookies)
        : null;
    return {
      credential,
      device: { deviceId: device.deviceId, source: device.source },
      browserDevice,
      session,
      deviceId: session ? browserDevice : device.deviceId,
      deviceSource: session ? 'cookie' : device.source,
      cookies,
    };
  }

  /** The verified token a request to a policy route speaks with, or why it has none that may be used. */
  async tokenFor(
    ctx: RequestContext,
    req: GatewayRequest,
    who: Identity,
    now: number,
  ): Promise<VerifiedToken | Stop> {
    let token: VerifiedToken;
    const { credential } = who;
    if (who.session) {
      // A cookie is sent whoever made the page: state-changing requests and WebSocket upgrades that ride
      // on the session must come from this origin (SameSite=Lax does not cover sibling subdomains).
      if (
        (req.upgrade || !SAFE_METHODS.has(req.method)) &&
        !sameOrigin(ctx.raw.headers, [`${ctx.proto}://${req.host.authority}`])
      ) {
        return {
          stop: respond(403, {
            error: 'cross_origin_request',
            message: 'this request must come from this origin',
          }),
          facts: { decision: 'deny', reason: 'cross_origin' },
        };
      }
      token = who.session.token;
    } else if (credential.scheme === 'none') {
      if (req.html && this.config.gateway.signIn && (req.method === 'GET' || req.method === 'HEAD')) {
        const back = returnToOf(req);
        return {
          stop: respond(303, undefined, {
            location: `/.stepgate/auth/login?return_to=${encodeURIComponent(back)}`,
          }),
          facts: { decision: 'unauthenticated', reason: 'sign_in' },
        };
      }
      return unauthenticated('no_token', null, 'a bearer token is required');
    } else {
      try {
        token = await this.verifier.verify(credential.token, now);
      } catch (err) {
        const message = err instanceof TokenError ? err.message : 'token could not be verified';
        if (credential.scheme === 'dpop')
          return this.refused(new CredentialError('DPoP', 'invalid_token', message));
        return unauthenticated('invalid_token', 'invalid_token', message);
      }
      try {
        Credentials.checkBinding(credential, token);
      } catch (err) {
        if (err instanceof CredentialError) return this.refused(err);
        throw err;
      }
    }
    if (token.kind === 'stepup' && token.deviceId !== who.deviceId)
      return unauthenticated('token_device_mismatch', 'invalid_token', 'token is bound to another device');
    return token;
  }

  /** Credentials refused: RFC 6750 / RFC 9449 section 7.1 in the scheme the client used. */
  refused(err: CredentialError): Stop {
    if (err.status === 503) {
      return {
        stop: respond(
          503,
          { error: 'temporarily_unavailable', message: err.message },
          { 'retry-after': '1' },
        ),
        facts: { decision: 'deny', reason: 'dpop_replay_unavailable' },
      };
    }
    const headers: Record<string, string> = {
      'www-authenticate': challengeFor(err, this.credentials.algorithms),
    };
    const nonce = err.code === 'use_dpop_nonce' ? this.credentials.nonce() : null;
    if (nonce) headers['dpop-nonce'] = nonce;
    return {
      stop: respond(
        err.code === 'invalid_request' ? 400 : 401,
        { error: err.code, message: err.message },
        headers,
      ),
      facts: { decision: 'unauthenticated', reason: err.code },
    };
  }

  /** The browser's session and the token that speaks for it now; adds the cookies the answer must carry. */
  private async sessionIdentity(
    ctx: RequestContext,
    deviceId: string | null,
    now: number,
    cookies: string[],
  ): Promise<SessionIdentity | null> {
    const session = await this.sessions.open(ctx.raw.headers.cookie, now);
    // A logged-out or replaced session id (on any instance) is no session.
    if (!session || this.revocations.refuses(session)) {
      cookies.push(this.sessions.clearCookie());
      return null;
    }
    let found: { token: VerifiedToken; raw: string } | null = null;
    if (session.stepUpToken) {
      const t = await this.verifier.verify(session.stepUpToken, now).catch(() => null);
      if (t && t.kind === 'stepup' && t.subject === session.sub && t.deviceId === deviceId)
        found = { token: t, raw: session.stepUpToken };
    }
    if (!found) {
      const t = await this.verifier.verify(session.accessToken, now).catch(() => null);
      if (t && t.kind === 'access' && t.subject === session.sub)
        found = { token: t, raw: session.accessToken };
    }
    if (!found) {
      // The provider's token expired: the session ends with it.
      cookies.push(this.sessions.clearCookie());
      return null;
    }
    if (this.sessions.needsTouch(session, now))
      cookies.push(this.sessions.cookie(await this.sessions.seal({ ...session, seenAt: now })));
    return { session, ...found };
  }

  /**
   * The request's URL as the client addressed it, for a DPoP proof's `htu`: the configured public origin (or
   * this request's), and the path as received, before the query.
   */
  private requestUrl(ctx: RequestContext, req: GatewayRequest): string {
    const origin = this.publicOrigin ?? `${ctx.proto}://${req.host.authority}`;
    const received = (ctx.raw.url ?? '/').split('?', 1)[0]!;
    return origin + (received.startsWith('/') ? received : req.target.path);
  }
}
