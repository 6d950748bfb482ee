// Which request and response headers cross the proxy. Pure.
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/**
 * A request header the gateway never passes on from the client, whatever the upstream: forwarding,
 * identity, group, client-certificate and original-URL headers that proxies and platforms set for the
 * service behind them, and that such services trust (Grafana's auth proxy, Kubernetes impersonation, an
 * nginx `auth_request` backend). A name ending in `*` is a prefix. The table is listed in docs/UPSTREAMS.md
 * (a spec keeps the two equal).
 */
export interface StrippedHeader {
  /** Lower case, dashes; `*` at the end: every header starting with what precedes it. */
  readonly name: string;
  /** Who sets it (and whose upstreams trust it). */
  readonly from: string;
  readonly why: string;
}

export const STRIPPED_REQUEST_HEADERS: readonly StrippedHeader[] = [
  // Forwarding: the gateway sets its own X-Forwarded-* and X-Correlation-Id after these are gone.
  { name: 'forwarded', from: 'RFC 7239', why: 'client address, host and scheme' },
  {
    name: 'x-forwarded-*',
    from: 'de facto; oauth2-proxy; Envoy; Traefik',
    why: 'client address, host, scheme; X-Forwarded-User/-Email/-Groups/-Preferred-Username/-Access-Token (oauth2-proxy), X-Forwarded-Client-Cert (Envoy, Istio), X-Forwarded-Tls-Client-Cert* (Traefik)',
  },
  { name: 'x-real-ip', from: 'nginx', why: 'client address' },
  { name: 'x-client-ip', from: 'various', why: 'client address' },
  { name: 'true-client-ip', from: 'Akamai, Cloudflare', why: 'client address' },
  { name: 'cf-connecting-ip', from: 'Cloudflare', why: 'client address' },
  { name: 'cf-connecting-ipv6', from: 'Cloudflare', why: 'client address' },
  { name: 'x-cluster-client-ip', from: 'Rackspace, Riverbed', why: 'client address' },
  { name: 'x-azure-clientip', from: 'Azure Front Door', why: 'client address' },
  { name: 'x-azure-socketip', from: 'Azure Front Door', why: 'client address' },
  {
    name: 'x-azure-fdid',
    from: 'Azure Front Door',
    why: 'which Front Door sent the request; upstreams check it to accept only their own',
  },
  { name: 'x-scheme', from: 'ingress-nginx', why: 'scheme of the original request' },
  { name: 'x-correlation-id', from: 'StepGate', why: 'set by the gateway' },
  {
    name: 'x-stepgate-*',
    from: 'StepGate',
    why: 'the signed identity assertion and anything else the gateway sets',
  },
  // Method override: the method is the request's.
  {
    name: 'x-http-method-override',
    from: 'Google, Rails, Express',
    why: 'changes the method the upstream runs',
  },
  { name: 'x-http-method', from: 'OData, Microsoft', why: 'changes the method the upstream runs' },
  { name: 'x-method-override', from: 'IBM, others', why: 'changes the method the upstream runs' },
  // Original path and URL: the upstream must route on the path the policy judged.
  {
    name: 'x-original-*',
    from: 'nginx auth_request, ingress-nginx, IIS/ARR',
    why: 'X-Original-URI/-URL/-Method/-Host/-Forwarded-For: the request before a rewrite; read instead of the path',
  },
  {
    name: 'x-rewrite-url',
    from: 'IIS URL Rewrite',
    why: 'the request URL before a rewrite; Symfony and Zend read it as the path',
  },
  {
    name: 'x-envoy-*',
    from: 'Envoy, Istio',
    why: 'x-envoy-original-path, x-envoy-external-address, x-envoy-internal, x-envoy-peer-metadata: trusted only from Envoy itself',
  },
  // Identity, groups and tokens set by authenticating proxies.
  {
    name: 'x-auth-*',
    from: 'nginx auth_request, oauth2-proxy, Keycloak Gatekeeper',
    why: 'X-Auth-Request-User/-Email/-Groups/-Access-Token, X-Auth-Userid/-Roles: who signed in',
  },
  {
    name: 'x-user*',
    from: 'Ory Oathkeeper, oauth2-proxy nginx, generic',
    why: 'X-User, X-User-Id, X-Userinfo, X-Username: who signed in',
  },
  { name: 'x-subject', from: 'Ory Oathkeeper', why: 'the subject, in its header mutator examples' },
  { name: 'x-id-token', from: 'Ory Oathkeeper', why: 'an ID token the upstream would believe' },
  { name: 'x-email*', from: 'generic', why: "the signed-in user's email" },
  {
    name: 'remote-*',
    from: 'Authelia, Caddy forward_auth, Apache',
    why: 'Remote-User, Remote-Groups, Remote-Name, Remote-Email: who signed in',
  },
  {
    name: 'x-remote-*',
    from: 'Kubernetes front proxy, generic',
    why: 'X-Remote-User, X-Remote-Group, X-Remote-Extra-*: the aggregated API server believes them',
  },
  {
    name: 'x-webauth-*',
    from: 'Grafana auth proxy',
    why: 'X-WEBAUTH-USER, -EMAIL, -NAME, -ROLE, -GROUPS: Grafana signs the user in from them',
  },
  {
    name: 'impersonate-*',
    from: 'Kubernetes',
    why: 'Impersonate-User, -Group, -Uid, -Extra-*: act as another user',
  },
  {
    name: 'x-consumer-*',
    from: 'Kong',
    why: 'X-Consumer-ID, -Custom-ID, -Username, -Groups: the authenticated consumer',
  },
  {
    name: 'x-credential-*',
    from: 'Kong',
    why: 'X-Credential-Identifier, -Username: the credential that authenticated',
  },
  {
    name: 'x-anonymous-*',
    from: 'Kong',
    why: 'X-Anonymous-Consumer, -Groups: whether authentication was skipped',
  },
  {
    name: 'x-authenticated-*',
    from: 'Kong, generic',
    why: 'X-Authenticated-User, -Userid, -Scope, -Groups: who signed in and what they may do',
  },
  { name: 'x-groups', from: 'generic', why: 'group membership' },
  { name: 'x-group', from: 'generic', why: 'group membership' },
  { name: 'x-roles', from: 'generic', why: 'role membership' },
  { name: 'x-role', from: 'generic', why: 'role membership' },
  {
    name: 'x-amzn-*',
    from: 'AWS ALB, API Gateway',
    why: 'X-Amzn-Oidc-Identity/-Data/-Accesstoken (ALB), X-Amzn-Mtls-Clientcert* (ALB mTLS), API Gateway context (X-Amzn-Trace-Id from the client goes too)',
  },
  {
    name: 'x-apigateway-*',
    from: 'AWS API Gateway, Google API Gateway',
    why: 'x-apigateway-event/-context (serverless adapters read the authorizer from them), X-Apigateway-Api-Userinfo',
  },
  {
    name: 'x-ms-client-principal*',
    from: 'Azure App Service',
    why: 'X-MS-CLIENT-PRINCIPAL, -ID, -NAME, -IDP: who signed in (Easy Auth)',
  },
  {
    name: 'x-ms-token-*',
    from: 'Azure App Service',
    why: 'X-MS-TOKEN-AAD-ID-TOKEN, -ACCESS-TOKEN ...: the provider tokens',
  },
  {
    name: 'x-goog-authenticated-user-*',
    from: 'Google IAP',
    why: 'X-Goog-Authenticated-User-Email, -Id: who signed in',
  },
  { name: 'x-goog-iap-*', from: 'Google IAP', why: 'X-Goog-IAP-JWT-Assertion: the signed identity' },
  { name: 'x-endpoint-api-userinfo', from: 'Google Cloud Endpoints (ESP)', why: 'the verified JWT claims' },
  {
    name: 'x-serverless-authorization',
    from: 'Google Cloud Run',
    why: 'an identity token Cloud Run checks instead of Authorization',
  },
  {
    name: 'x-appengine-*',
    from: 'Google App Engine',
    why: 'X-AppEngine-User-Email/-Id/-Is-Admin, -Cron, -QueueName: App Engine removes them from outside requests because apps trust them',
  },
  {
    name: 'cf-access-*',
    from: 'Cloudflare Access',
    why: 'Cf-Access-Authenticated-User-Email, Cf-Access-Jwt-Assertion, service-token Cf-Access-Client-Id/-Secret',
  },
  {
    name: 'x-pomerium-*',
    from: 'Pomerium',
    why: 'X-Pomerium-Jwt-Assertion, X-Pomerium-Claim-*: who signed in',
  },
  {
    name: 'x-authentik-*',
    from: 'authentik',
    why: 'X-authentik-username, -groups, -email, -uid, -jwt: who signed in',
  },
  { name: 'x-vouch-*', from: 'Vouch Proxy', why: 'X-Vouch-User, X-Vouch-IdP-Claims-*: who signed in' },
  {
    name: 'tailscale-user-*',
    from: 'Tailscale serve',
    why: 'Tailscale-User-Login, -Name, -Profile-Pic: who connected',
  },
  {
    name: 'oidc-*',
    from: 'Apache mod_auth_openidc',
    why: 'OIDC_CLAIM_*, OIDC_access_token, OIDC_id_token: the claims and tokens',
  },
  {
    name: 'shib-*',
    from: 'Shibboleth SP',
    why: 'Shib-Session-ID, Shib-Identity-Provider ...: the SAML session',
  },
  {
    name: 'mellon-*',
    from: 'Apache mod_auth_mellon',
    why: 'MELLON_NAME_ID and attributes: the SAML subject',
  },
  {
    name: 'gap-*',
    from: 'oauth2-proxy (with --signature-key)',
    why: 'GAP-Auth, the signed-in user, and GAP-Signature, the HMAC an upstream checks it with',
  },
  // Client certificates: the gateway terminates TLS; a certificate in a header is a claim.
  { name: 'client-cert*', from: 'RFC 9440', why: 'Client-Cert, Client-Cert-Chain: the client certificate' },
  {
    name: 'ssl-client-*',
    from: 'nginx, Apache, HAProxy',
    why: 'Ssl-Client-Cert, -Verify, -S-Dn: the client certificate and whether it verified',
  },
  {
    name: 'x-ssl-*',
    from: 'HAProxy, F5, nginx',
    why: 'X-SSL-Client-S-DN, X-SSL-Cert, X-SSL-Client-Verify: the client certificate',
  },
  {
    name: 'x-client-cert*',
    from: 'Google Cloud Load Balancing mTLS, generic',
    why: 'X-Client-Cert, X-Client-Cert-Present/-Chain-Verified/-Hash/-Spiffe: the client certificate',
  },
  { name: 'x-client-verify', from: 'nginx', why: 'whether a client certificate verified' },
  { name: 'x-client-dn', from: 'nginx, generic', why: "the client certificate's subject" },
  { name: 'x-arr-clientcert', from: 'Azure App Service (ARR)', why: 'the client certificate' },
];

/** A set of header names and prefixes (`x-team-*`), compared in lower case with underscores as dashes. */
export type HeaderMatcher = (name: string) => boolean;

/** Underscores compare as dashes, because some upstream servers treat them the same. */
export function normalizeHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

export function headerMatcher(patterns: readonly string[]): HeaderMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    const n = normalizeHeaderName(p);
    if (n.endsWith('*')) prefixes.push(n.slice(0, -1));
    else exact.add(n);
  }
  return (name) => {
    const n = normalizeHeaderName(name);
    return exact.has(n) || prefixes.some((p) => n.startsWith(p));
  };
}

const strippedByDefault = headerMatcher(STRIPPED_REQUEST_HEADERS.map((h) => h.name));

/** Whether the gateway removes this client header for every upstream. */
export function isSpoofable(name: string): boolean {
  return strippedByDefault(name);
}

/**
 * A header name, or a prefix ending in `*`, as an upstream's `stripHeaders` or allowlist holds it
 * (RFC 9110 token characters).
 */
export const HEADER_PATTERN = /^[!#$%&'+.^_`|~0-9A-Za-z-]+\*?$/;

/**
 * What an allowlist mode forwards without being listed: what HTTP needs to carry a body, negotiate its
 * form, revalidate caches and upgrade to a WebSocket.
 */
export const ALWAYS_FORWARDED = [
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'content-encoding',
  'content-language',
  'content-length',
  'content-range',
  'content-type',
  'expect',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'pragma',
  'range',
  'sec-websocket-extensions',
  'sec-websocket-key',
  'sec-websocket-protocol',
  'sec-websocket-version',
] as const;
const alwaysForwarded = headerMatcher(ALWAYS_FORWARDED);

/** One upstream's rules for client headers, on top of the default table. */
export interface UpstreamHeaderRules {
  /** The client's `Authorization` (and its `DPoP` proof) go on. */
  passAuthorization: boolean;
  /** More names and prefixes to remove. */
  strip?: readonly string[];
  /** When set, only these client headers (plus ALWAYS_FORWARDED and what the gateway sets) go on. */
  allow?: readonly string[];
}

export interface CompiledHeaderRules {
  passAuthorization: boolean;
  strip: HeaderMatcher | null;
  allow: HeaderMatcher | null;
}

export function compileHeaderPolicy(p: UpstreamHeaderRules): CompiledHeaderRules {
  return {
    passAuthorization: p.passAuthorization,
    strip: p.strip && p.strip.length > 0 ? headerMatcher(p.strip) : null,
    allow: p.allow ? headerMatcher(p.allow) : null,
  };
}

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const c = headers.connection;
  return new Set(
    (typeof c === 'string' ? c : '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

export interface ForwardContext {
  clientIp: string;
  /** Canonical host (with a non-default port) for X-Forwarded-Host. */
  host: string;
  proto: 'http' | 'https';
  correlationId: string;
  /** Headers the gateway sets itself (the identity assertion; for browsers, the challenge service's bearer). */
  set?: Record<string, string>;
}

/** StepGate's own cookies (session, login, device) stay between the browser and the gateway. */
const STEPGATE_COOKIE = /^\s*__Host-stepgate-/;

function withoutStepgateCookies(cookie: string | string[]): string | undefined {
  const kept = (Array.isArray(cookie) ? cookie.join('; ') : cookie)
    .split(';')
    .filter((c) => c.trim() !== '' && !STEPGATE_COOKIE.test(c))
    .map((c) => c.trim());
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/**
 * The headers an upstream receives: the client's, minus hop-by-hop, the default table, the upstream's own
 * additions and (in allowlist mode) whatever it did not list; then what the gateway sets.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  ctx: ForwardContext,
  policy: CompiledHeaderRules,
): Record<string, string | string[]> {
  const listed = connectionListed(incoming);
  // A DPoP proof travels with its token: both stay here unless the upstream asked for the credentials
  // (or the gateway sets the credentials itself).
  const credentials = policy.passAuthorization || ctx.set?.authorization !== undefined;
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || isSpoofable(name)) continue;
    if (policy.strip?.(name)) continue;
    if (name === 'authorization' || name === 'dpop') {
      if (credentials) out[name] = value;
      continue;
    }
    if (policy.allow && !policy.allow(name) && !alwaysForwarded(name)) continue;
    if (name === 'cookie') {
      const kept = withoutStepgateCookies(value);
      if (kept !== undefined) out.cookie = kept;
      continue;
    }
    out[name] = value;
  }
  // Set by the gateway, never appended to what the client claimed.
  out['x-forwarded-for'] = ctx.clientIp;
  out['x-forwarded-host'] = ctx.host;
  out['x-forwarded-proto'] = ctx.proto;
  out['x-correlation-id'] = ctx.correlationId;
  if (ctx.set) for (const [name, value] of Object.entries(ctx.set)) out[name] = value;
  return out;
}

/** A Set-Cookie value for one of StepGate's own cookies (session, device): only the gateway sets those. */
export function isStepGateCookie(setCookie: string): boolean {
  return /^\s*__Host-stepgate-/i.test(setCookie);
}

export function downstreamResponseHeaders(
  incoming: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const listed = new Set(
    String(incoming.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (name === 'set-cookie') {
      // An upstream may set its own cookies, never StepGate's session or device cookie.
      const kept = (Array.isArray(value) ? value : [value]).filter((c) => !isStepGateCookie(c));
      if (kept.length > 0) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** Drops method-override parameters from a query string (`?_method=DELETE`): the method is the request's. */
export function stripOverrideParams(query: string): string {
  if (!/[?&](_method|x-http-method-override)=/i.test(query)) return query;
  const params = new URLSearchParams(query.slice(1));
  for (const name of [...params.keys()]) {
    if (/^(_method|x-http-method-override)$/i.test(name)) params.delete(name);
  }
  const rest = params.toString();
  return rest ? `?${rest}` : '';
}
