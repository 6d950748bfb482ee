// The dev issuer's OIDC provider: a login page where you type a user name, authorization codes bound to
// PKCE (S256) and the redirect URI, and a token endpoint issuing an ID token and an access token. Public
// clients only, redirect URIs on loopback hosts only. For development and tests; it authenticates nobody.
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import type { DevIssuerConfig } from './config';
import type { DevIssuerKey } from './dev-issuer.keys';
import { signDevToken } from './dev-token';

const CODE_TTL_MS = 60_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const SUBJECT = /^[A-Za-z0-9._@-]{1,64}$/;

interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  nonce: string | null;
  codeChallenge: string;
  scope: string;
}

interface IssuedCode extends AuthorizationRequest {
  sub: string;
  authTime: number;
  expires: number;
}

export class DevOidcProvider {
  private readonly codes = new Map<string, IssuedCode>();

  constructor(
    private readonly config: DevIssuerConfig,
    private readonly key: DevIssuerKey,
  ) {}

  discovery(): Record<string, unknown> {
    const issuer = this.config.issuer;
    // The browser opens the authorization endpoint; services call the token endpoint and read the keys.
    const backchannel = this.config.backchannelUrl || issuer;
    return {
      issuer,
      jwks_uri: `${backchannel}/jwks.json`,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${backchannel}/token`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      scopes_supported: ['openid'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      claims_supported: ['sub', 'acr', 'amr', 'auth_time', 'nonce'],
      authorization_response_iss_parameter_supported: true,
      stepgate_note:
        'development issuer: anyone can sign in as anyone; tokens also from `npm run -s token -- --sub NAME`',
    };
  }

  /** GET shows the login page; POST (the page's form) issues a code and redirects back. */
  async authorize(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const params = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams;
    const parsed = this.parseAuthorization(params);
    if (typeof parsed === 'string') return page(res, 400, `<p class="error">${escapeHtml(parsed)}</p>`);
    if (req.method === 'GET') return page(res, 200, loginForm(parsed));
    const sub = params.get('username') ?? '';
    if (!SUBJECT.test(sub))
      return page(
        res,
        400,
        `<p class="error">user name: 1-64 of A-Z a-z 0-9 . _ @ -</p>${loginForm(parsed)}`,
      );
    const code = randomBytes(32).toString('base64url');
    this.sweep();
    this.codes.set(code, {
      ...parsed,
      sub,
      authTime: Math.floor(Date.now() / 1000),
      expires: Date.now() + CODE_TTL_MS,
    });
    const back = new URL(parsed.redirectUri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', parsed.state);
    back.searchParams.set('iss', this.config.issuer);
    res.writeHead(303, { location: back.toString(), 'cache-control': 'no-store' });
    res.end();
  }

  /** The authorization_code grant with PKCE S256; a code works once. */
  async token(req: IncomingMessage): Promise<{ status: number; body: Record<string, unknown> }> {
    const fail = (error: string, description: string) => ({
      status: 400,
      body: { error, error_description: description },
    });
    const params = new URLSearchParams(await readBody(req));
    if (params.get('grant_type') !== 'authorization_code')
      return fail('unsupported_grant_type', 'only authorization_code');
    const code = params.get('code') ?? '';
    const issued = this.codes.get(code);
    this.codes.delete(code);
    if (!issued || issued.expires < Date.now()) return fail('invalid_grant', 'unknown, used or expired code');
    if (params.get('client_id') !== issued.clientId)
      return fail('invalid_grant', 'code issued to another client');
    if (params.get('redirect_uri') !== issued.redirectUri)
      return fail('invalid_grant', 'redirect_uri mismatch');
    const verifier = params.get('code_verifier') ?? '';
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier))
      return fail('invalid_grant', 'code_verifier missing or malformed');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    if (challenge !== issued.codeChallenge) return fail('invalid_grant', 'PKCE verification failed');

    const now = Math.floor(Date.now() / 1000);
    const sid = randomBytes(16).toString('base64url');
    const accessToken = await signDevToken(this.config, this.key, { sub: issued.sub, sid });
    const idToken = await new SignJWT({
      acr: 'urn:stepgate:acr:basic',
      amr: ['pwd'],
      auth_time: issued.authTime,
      sid,
      ...(issued.nonce ? { nonce: issued.nonce } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.config.issuer)
      .setAudience(issued.clientId)
      .setSubject(issued.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(this.key.privateKey);
    return {
      status: 200,
      body: {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: this.config.tokenTtlSeconds,
        id_token: idToken,
        scope: issued.scope,
      },
    };
  }

  private parseAuthorization(p: URLSearchParams): AuthorizationRequest | string {
    if (p.get('response_type') !== 'code') return 'response_type must be code';
    const clientId = p.get('client_id');
    if (!clientId || clientId.length > 128) return 'client_id is required';
    const redirectUri = p.get('redirect_uri') ?? '';
    let redirect: URL;
    try {
      redirect = new URL(redirectUri);
    } catch {
      return 'redirect_uri must be an absolute URL';
    }
    if (!/^https?:$/.test(redirect.protocol) || !LOOPBACK.has(redirect.hostname) || redirect.hash)
      return 'the development issuer only redirects to loopback hosts (localhost, 127.0.0.1, [::1])';
    const scope = p.get('scope') ?? '';
    if (!scope.split(' ').includes('openid')) return 'scope must include openid';
    const state = p.get('state');
    if (!state || state.length > 512) return 'state is required';
    const codeChallenge = p.get('code_challenge') ?? '';
    if (p.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge))
      return 'PKCE with code_challenge_method=S256 is required';
    const nonce = p.get('nonce');
    return {
      clientId,
      redirectUri,
      state,
      nonce: nonce && nonce.length <= 512 ? nonce : null,
      codeChallenge,
      scope,
    };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [code, issued] of this.codes) if (issued.expires < now) this.codes.delete(code);
  }
}

function loginForm(a: AuthorizationRequest): string {
  const hidden = (name: string, value: string | null) =>
    value === null ? '' : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  return `<form method="post" action="/authorize">
  <label for="username">User name</label>
  <input id="username" name="username" autocomplete="username" required pattern="[A-Za-z0-9._@\\-]{1,64}" autofocus>
  ${hidden('response_type', 'code')}${hidden('client_id', a.clientId)}${hidden('redirect_uri', a.redirectUri)}
  ${hidden('scope', a.scope)}${hidden('state', a.state)}${hidden('nonce', a.nonce)}
  ${hidden('code_challenge', a.codeChallenge)}${hidden('code_challenge_method', 'S256')}
  <button type="submit">Sign in</button>
</form>`;
}

function page(res: ServerResponse, status: number, body: string): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>StepGate dev issuer</title></head>
<body><h1>StepGate development issuer</h1>
<p role="alert"><strong>Development only.</strong> Anyone can sign in as anyone here: type a user name. Never use this issuer in production.</p>
${body}</body></html>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readBody(req: IncomingMessage, limit = 16_384): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
