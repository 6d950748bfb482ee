// Browser sign-in: OIDC authorization code + PKCE (openid-client) against the configured provider. The
// login state (state, nonce, PKCE verifier, return_to) travels in a short-lived encrypted cookie, and the
// session in another, so any gateway instance can finish a sign-in another one started.
import { Inject, Injectable } from '@nestjs/common';
import { TokenVerifier } from '@stepgate/identity';
import { DomainError, Forbidden, type HttpStatusList } from '@stepgate/observability';
import { returnToOrRoot } from '@stepgate/redirect';
import * as oidc from 'openid-client';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { canonicalHost } from '../proxy/canonical-request';
import type { IncomingHttpHeaders } from 'node:http';
import { sameOrigin } from './same-origin';
import { SessionCodec, LOGIN_COOKIE, type Session } from './session';
import { SessionRevocations } from './session-revocations';

export const CALLBACK_PATH = '/.stepgate/auth/callback';
export const LOGIN_PATH = '/.stepgate/auth/login';
export const LOGOUT_PATH = '/.stepgate/auth/logout';
/** The purpose a logout form's CSRF token is bound to (with the session id). */
const LOGOUT_FORM = 'logout';

export class SignInError extends DomainError {
  constructor(message: string) {
    super('sign_in_failed', message);
  }
}

/** A logout that may not have been meant: another origin, or no valid CSRF token for this session. */
export class LogoutRefused extends Forbidden {}

export const SIGN_IN_HTTP_STATUSES: HttpStatusList = [[SignInError, 400]];

export interface Redirect {
  location: string;
  cookies: string[];
}

/**
 * The page GET logout shows: the confirmation form (its CSRF token) for a live session, else the signed-out
 * page (with the cookie cleared, in case a dead one is still sent).
 */
export type LogoutPage =
  | { kind: 'confirm'; csrfToken: string; returnTo: string }
  | { kind: 'signed_out'; returnTo: string; cookies: string[] };

@Injectable()
export class SignInService {
  private provider: Promise<oidc.Configuration> | null = null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly sessions: SessionCodec,
    private readonly verifier: TokenVerifier,
    private readonly revocations: SessionRevocations,
  ) {}

  get enabled(): boolean {
    return this.config.gateway.signIn !== undefined;
  }

  /** Where to send the browser to sign in, and the login-state cookie to set. */
  async start(hostHeader: string | undefined, returnTo: unknown): Promise<Redirect> {
    const provider = await this.discover();
    const settings = this.settings();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(provider, {
      redirect_uri: this.redirectUri(hostHeader),
      scope: settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const now = Math.floor(Date.now() / 1000);
    const cookie = await this.sessions.sealLogin(
      { state, nonce, codeVerifier, returnTo: returnToOrRoot(returnTo) },
      now,
    );
    return { location: url.toString(), cookies: [cookie] };
  }

  /** Completes the code exchange, opens a session, and sends the browser back where it was going. */
  async finish(
    hostHeader: string | undefined,
    rawUrl: string,
    cookieHeader: string | undefined,
  ): Promise<Redirect> {
    const now = Math.floor(Date.now() / 1000);
    const login = await this.sessions.openLogin(cookieHeader, now);
    if (!login) throw new SignInError('no sign-in in progress (or it expired): start again');
    const provider = await this.discover();
    const current = new URL(rawUrl, this.origin(hostHeader));
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(provider, current, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw new SignInError(`the provider did not complete the sign-in: ${(err as Error).message}`);
    }
    const claims = tokens.claims();
    if (!claims) throw new SignInError('the provider returned no ID token');
    // The session acts with the user's access token: it must be one the gateway itself accepts.
    let access;
    try {
      access = await this.verifier.verify(tokens.access_token, now);
    } catch (err) {
      throw new SignInError(`the provider's access token is not accepted: ${(err as Error).message}`);
    }
    if (access.kind !== 'access' || access.subject !== claims.sub)
      throw new SignInError('the access token is not for the signed-in user');
    const session = this.sessions.newSession(
      {
        sub: claims.sub,
        accessToken: tokens.access_token,
        stepUpToken: null,
        acr: typeof claims.acr === 'string' ? claims.acr : access.acr,
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : access.authTime,
      },
      now,
    );
    return {
      // Checked again on the way out, although it was checked when it came in.
      location: returnToOrRoot(login.returnTo),
      cookies: [
        this.sessions.cookie(await this.sessions.seal(session)),
        this.sessions.clearCookie(LOGIN_COOKIE),
      ],
    };
  }

  /** GET logout: a page, never a sign-out (any site can make a browser send a GET). */
  async logoutPage(cookieHeader: string | undefined, returnTo: unknown): Promise<LogoutPage> {
    const session = await this.liveSession(cookieHeader);
    const to = returnToOrRoot(returnTo);
    if (!session) return { kind: 'signed_out', returnTo: to, cookies: [this.sessions.clearCookie()] };
    return { kind: 'confirm', csrfToken: this.sessions.formToken(session, LOGOUT_FORM), returnTo: to };
  }

  /**
   * POST logout: only from our own origin and, for a live session, with that session's CSRF token. The session
   * id is revoked on every instance, so a copy of the cookie is refused too, and the cookie cleared. Then to
   * the signed-out page, not straight to return_to: a protected return_to would bounce on to the provider,
   * which the form's CSP (`form-action 'self'`, enforced on redirects) rightly blocks.
   */
  async logout(
    headers: IncomingHttpHeaders,
    returnTo: unknown,
    csrfToken: unknown,
    correlationId?: string,
  ): Promise<Redirect> {
    if (!sameOrigin(headers, this.origins(headers.host)))
      throw new LogoutRefused('sign-out must come from this site');
    const session = await this.liveSession(headers.cookie);
    if (session) {
      if (!this.sessions.verifyFormToken(session, LOGOUT_FORM, csrfToken))
        throw new LogoutRefused(
          'the sign-out form is missing its token or is from another session; reload it',
        );
      await this.revocations.revoke(session, 'logout', correlationId);
    }
    return {
      location: `${LOGOUT_PATH}?return_to=${encodeURIComponent(returnToOrRoot(returnTo))}`,
      cookies: [this.sessions.clearCookie()],
    };
  }

  /**
   * A session that can still be signed out: not revoked. One refused only because this instance has not read
   * the revocations yet can (its copies elsewhere must end too).
   */
  private async liveSession(cookieHeader: string | undefined): Promise<Session | null> {
    const session = await this.sessions.open(cookieHeader, Math.floor(Date.now() / 1000));
    return session && !this.revocations.isRevoked(session.sid) ? session : null;
  }

  /** The origins a browser on this gateway can be at: the configured public URL's, else this Host's. */
  private origins(hostHeader: string | undefined): string[] {
    const publicUrl = this.config.gateway.signIn?.publicUrl;
    if (publicUrl) return [new URL(publicUrl).origin];
    const http = canonicalHost(hostHeader, 'http');
    const https = canonicalHost(hostHeader, 'https');
    return [http && `http://${http.authority}`, https && `https://${https.authority}`].filter(
      (o): o is string => o !== null,
    );
  }

  private settings(): NonNullable<GatewayConfig['gateway']['signIn']> {
    const s = this.config.gateway.signIn;
    if (!s) throw new SignInError('browser sign-in is not configured');
    return s;
  }

  private discover(): Promise<oidc.Configuration> {
    if (!this.provider) {
      const s = this.settings();
      const issuer = new URL(s.issuer);
      const metadata = s.discoveryUrl ? new URL(s.discoveryUrl) : issuer;
      const auth = s.clientSecret ? oidc.ClientSecretPost(s.clientSecret) : oidc.None();
      // Plain http only when the provider itself is (the dev issuer on loopback or in compose): an https
      // issuer's metadata, token endpoint and client secret never go over http, whatever discoveryUrl says.
      const execute = issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [];
      this.provider = oidc
        .discovery(metadata, s.clientId, s.clientSecret || undefined, auth, { execute, timeout: 10 })
        .then((provider) => {
          // Read from a metadata URL, openid-client does not compare the issuer: the gateway does.
          const found = provider.serverMetadata().issuer;
          if (found !== s.issuer) throw new Error(`its metadata names issuer ${found}, not ${s.issuer}`);
          return provider;
        })
        .catch((err: unknown) => {
          this.provider = null;
          throw new SignInError(`the sign-in provider is unavailable: ${(err as Error).message}`);
        });
    }
    return this.provider;
  }

  private origin(hostHeader: string | undefined): string {
    const s = this.settings();
    if (s.publicUrl) return new URL(s.publicUrl).origin;
    const host = canonicalHost(hostHeader);
    if (!host) throw new SignInError('missing or invalid Host header');
    return `http://${host.authority}`;
  }

  private redirectUri(hostHeader: string | undefined): string {
    return `${this.origin(hostHeader)}${CALLBACK_PATH}`;
  }
}
