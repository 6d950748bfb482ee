// Browser sign-in: OIDC authorization code + PKCE (openid-client) against the configured provider. The
// login state (state, nonce, PKCE verifier, return_to) travels in a short-lived encrypted cookie, and the
// session in another, so any gateway instance can finish a sign-in another one started.
import { Inject, Injectable } from '@nestjs/common';
import { TokenVerifier } from '@stepgate/identity';
import * as oidc from 'openid-client';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config';
import { canonicalHost } from '../proxy/canonical-request';
import { returnToOrRoot } from './return-to';
import { SessionCodec, LOGIN_COOKIE } from './session';

export const CALLBACK_PATH = '/.stepgate/auth/callback';

export class SignInError extends Error {
  readonly code = 'sign_in_failed';
}

export interface Redirect {
  location: string;
  cookies: string[];
}

@Injectable()
export class SignInService {
  private provider: Promise<oidc.Configuration> | null = null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly sessions: SessionCodec,
    private readonly verifier: TokenVerifier,
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

  logout(returnTo: unknown): Redirect {
    return { location: returnToOrRoot(returnTo), cookies: [this.sessions.clearCookie()] };
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
      const auth = s.clientSecret ? oidc.ClientSecretPost(s.clientSecret) : oidc.None();
      // Plain http only when the configured provider URL says so (the dev issuer on loopback).
      const execute = issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [];
      this.provider = oidc
        .discovery(issuer, s.clientId, s.clientSecret || undefined, auth, { execute, timeout: 10 })
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
