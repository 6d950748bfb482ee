import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewaySection } from '../config';
import {
  ALWAYS_FORWARDED,
  compileHeaderPolicy,
  downstreamResponseHeaders,
  isSpoofable,
  STRIPPED_REQUEST_HEADERS,
  upstreamRequestHeaders,
} from './forward-headers';

const ctx = { clientIp: '203.0.113.9', host: 'app.example', proto: 'https' as const, correlationId: 'c-1' };

/** Every header the security review saw echoed by the demo upstream. */
const FINDING = [
  'X-WEBAUTH-USER',
  'Impersonate-User',
  'X-Authenticated-User',
  'X-Original-URI',
  'X-Groups',
  'X-Consumer-Username',
  'X-Amzn-Oidc-Identity',
  'X-MS-CLIENT-PRINCIPAL-NAME',
  'Ssl-Client-Cert',
  'X-SSL-Client-S-DN',
  'X-Envoy-Original-Path',
  'Cf-Access-Authenticated-User-Email',
  'X-Goog-Authenticated-User-Email',
];

/** What the gateway stripped before the table existed: it must keep doing so. */
const BEFORE = [
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-cluster-client-ip',
  'remote-user',
  'x-remote-user',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
  'x-original-method',
  'x-correlation-id',
  'x-forwarded-anything',
  'x-stepgate-assertion',
  'x-auth-request-user',
  'x-user',
  'x-userinfo',
  'x-remote-group',
  'x-email',
];

/** Headers the brief names from each platform. */
const PLATFORMS = [
  'X-Original-URL',
  'X-Original-Method',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'x-envoy-external-address',
  'x-forwarded-client-cert',
  'x-envoy-internal',
  'Impersonate-Group',
  'Impersonate-Uid',
  'Impersonate-Extra-Scopes',
  'X-WEBAUTH-EMAIL',
  'X-WEBAUTH-ROLE',
  'X-Consumer-ID',
  'X-Consumer-Custom-ID',
  'X-Consumer-Groups',
  'X-Credential-Identifier',
  'X-Anonymous-Consumer',
  'X-Authenticated-Groups',
  'X-Authenticated-Scope',
  'X-Authenticated-Userid',
  'X-Amzn-Oidc-Data',
  'X-Amzn-Oidc-Accesstoken',
  'x-amzn-apigateway-api-id',
  'x-apigateway-event',
  'x-apigateway-context',
  'X-MS-CLIENT-PRINCIPAL',
  'X-MS-CLIENT-PRINCIPAL-ID',
  'X-MS-CLIENT-PRINCIPAL-IDP',
  'X-MS-TOKEN-AAD-ID-TOKEN',
  'X-Goog-Authenticated-User-Id',
  'X-Goog-IAP-JWT-Assertion',
  'X-Endpoint-API-UserInfo',
  'Cf-Access-Jwt-Assertion',
  'X-User',
  'X-Id-Token',
  'X-Forwarded-User',
  'X-Forwarded-Email',
  'X-Forwarded-Groups',
  'X-Forwarded-Preferred-Username',
  'X-Forwarded-Access-Token',
  'Remote-User',
  'Remote-Groups',
  'Remote-Name',
  'Remote-Email',
  'Ssl-Client-Verify',
  'X-SSL-Cert',
  'X-Client-Cert',
  'X-Client-Certificate',
  'X-ARR-ClientCert',
  'Client-Cert',
  'Client-Cert-Chain',
  'X-Roles',
  'X-Remote-Extra-Scopes',
  'GAP-Auth',
  'GAP-Signature',
  'Tailscale-User-Login',
  'X-Pomerium-Jwt-Assertion',
  'X-authentik-username',
  'OIDC_CLAIM_email',
  'X-Serverless-Authorization',
  'X-Azure-FDID',
];

const ORDINARY = [
  'accept',
  'accept-encoding',
  'accept-language',
  'content-type',
  'content-length',
  'cookie',
  'user-agent',
  'referer',
  'origin',
  'if-none-match',
  'cache-control',
  'x-requested-with',
  'x-request-id',
  'x-device-id',
  'traceparent',
  'authorization',
  'dpop',
];

const variants = (name: string) => [
  name,
  name.toLowerCase(),
  name.toUpperCase(),
  name.replaceAll('-', '_'),
  name.toLowerCase().replaceAll('-', '_'),
];

describe('STRIPPED_REQUEST_HEADERS', () => {
  it('removes every header of the finding, in any case, with underscores or dashes', () => {
    for (const name of FINDING) for (const v of variants(name)) expect(isSpoofable(v), v).toBe(true);
  });

  it("removes each platform's identity, group, certificate and original-URL headers", () => {
    for (const name of PLATFORMS) for (const v of variants(name)) expect(isSpoofable(v), v).toBe(true);
  });

  it('keeps removing everything it removed before', () => {
    for (const name of BEFORE) for (const v of variants(name)) expect(isSpoofable(v), v).toBe(true);
  });

  it('matches a prefix entry by any name that starts with it', () => {
    for (const { name } of STRIPPED_REQUEST_HEADERS.filter((h) => h.name.endsWith('*'))) {
      const stem = name.slice(0, -1);
      expect(isSpoofable(`${stem}anything`), name).toBe(true);
      expect(isSpoofable(`${stem.toUpperCase()}ANYTHING`.replaceAll('-', '_')), name).toBe(true);
    }
  });

  it('leaves ordinary headers alone', () => {
    for (const name of [...ORDINARY, ...ALWAYS_FORWARDED]) expect(isSpoofable(name), name).toBe(false);
  });

  it('is well formed: lower case, dashes, no entry twice', () => {
    const names = STRIPPED_REQUEST_HEADERS.map((h) => h.name);
    for (const n of names) expect(n, n).toMatch(/^[a-z0-9-]+\*?$/);
    expect(new Set(names).size).toBe(names.length);
    for (const h of STRIPPED_REQUEST_HEADERS) expect(h.from && h.why, h.name).toBeTruthy();
  });

  it('is the table docs/UPSTREAMS.md lists', () => {
    const doc = readFileSync(resolve(__dirname, '../../../../docs/UPSTREAMS.md'), 'utf8');
    const section = doc.slice(
      doc.indexOf('<!-- stripped-headers:start -->'),
      doc.indexOf('<!-- stripped-headers:end -->'),
    );
    const rows = section
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .map((l) =>
        l
          .slice(1, -1)
          .split(' | ')
          .map((c) => c.trim()),
      );
    const table = [
      '| header | set by | why it is removed |',
      '| --- | --- | --- |',
      ...STRIPPED_REQUEST_HEADERS.map((h) => `| \`${h.name}\` | ${h.from} | ${h.why} |`),
    ].join('\n');
    expect(
      rows,
      `put this between the stripped-headers markers of docs/UPSTREAMS.md (then prettier):\n${table}\n`,
    ).toEqual(STRIPPED_REQUEST_HEADERS.map((h) => [`\`${h.name}\``, h.from, h.why]));
  });
});

describe('ALWAYS_FORWARDED', () => {
  it('is listed in docs/UPSTREAMS.md', () => {
    const doc = readFileSync(resolve(__dirname, '../../../../docs/UPSTREAMS.md'), 'utf8').toLowerCase();
    for (const name of ALWAYS_FORWARDED)
      expect(doc, name).toContain(name.startsWith('sec-websocket-') ? '`sec-websocket-*`' : `\`${name}\``);
  });
});

describe(upstreamRequestHeaders.name, () => {
  it('sets forwarding headers from the connection and drops what the client claimed', () => {
    const out = upstreamRequestHeaders(
      {
        'x-forwarded-for': '1.1.1.1',
        x_forwarded_for: '2.2.2.2',
        connection: 'keep-alive, x-secret',
        'x-secret': 's',
        accept: 'a',
      },
      ctx,
      compileHeaderPolicy({ passAuthorization: false }),
    );
    expect(out).toMatchObject({
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      accept: 'a',
    });
    expect(out.x_forwarded_for).toBeUndefined();
    expect(out['x-secret']).toBeUndefined();
  });

  it('keeps ordinary headers and the cookies that are not StepGate’s', () => {
    const out = upstreamRequestHeaders(
      {
        accept: 'text/html',
        'content-type': 'application/json',
        'user-agent': 'ua',
        cookie: 'app=1; __Host-stepgate-session=s; theme=dark',
        authorization: 'Bearer t',
        dpop: 'proof',
        'x-webauth-user': 'admin',
      },
      ctx,
      compileHeaderPolicy({ passAuthorization: true }),
    );
    expect(out).toMatchObject({
      accept: 'text/html',
      'content-type': 'application/json',
      'user-agent': 'ua',
      cookie: 'app=1; theme=dark',
      authorization: 'Bearer t',
      dpop: 'proof',
    });
    expect(out['x-webauth-user']).toBeUndefined();
  });

  it('keeps the client’s credentials only when the upstream asks for them or the gateway sets them', () => {
    const incoming = { authorization: 'Bearer t', dpop: 'proof' };
    const withheld = upstreamRequestHeaders(incoming, ctx, compileHeaderPolicy({ passAuthorization: false }));
    expect(withheld.authorization).toBeUndefined();
    expect(withheld.dpop).toBeUndefined();
    const set = upstreamRequestHeaders(
      incoming,
      { ...ctx, set: { authorization: 'Bearer session' } },
      compileHeaderPolicy({ passAuthorization: false }),
    );
    expect(set.authorization).toBe('Bearer session');
  });

  it("removes an upstream's own names and prefixes too, with underscores or dashes", () => {
    const out = upstreamRequestHeaders(
      { 'x-tenant': 't', x_team_id: '1', 'x-team-role': 'r', accept: 'a' },
      ctx,
      compileHeaderPolicy({ passAuthorization: false, strip: ['X-Tenant', 'x-team-*'] }),
    );
    expect(out).toMatchObject({ accept: 'a' });
    expect(Object.keys(out)).not.toContain('x-tenant');
    expect(Object.keys(out)).not.toContain('x_team_id');
    expect(Object.keys(out)).not.toContain('x-team-role');
  });

  it('in allowlist mode passes only listed headers, what HTTP needs and what the gateway sets', () => {
    const out = upstreamRequestHeaders(
      {
        accept: 'a',
        'content-type': 'text/plain',
        'content-length': '3',
        'if-none-match': '"e"',
        'user-agent': 'ua',
        cookie: 'app=1',
        'x-tenant': 't',
        'x-app-one': '1',
        'x-webauth-user': 'admin',
        authorization: 'Bearer t',
      },
      { ...ctx, set: { 'x-stepgate-assertion': 'jwt' } },
      compileHeaderPolicy({ passAuthorization: true, allow: ['X-Tenant', 'x-app-*'] }),
    );
    expect(out).toEqual({
      accept: 'a',
      'content-type': 'text/plain',
      'content-length': '3',
      'if-none-match': '"e"',
      'x-tenant': 't',
      'x-app-one': '1',
      authorization: 'Bearer t',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'app.example',
      'x-forwarded-proto': 'https',
      'x-correlation-id': 'c-1',
      'x-stepgate-assertion': 'jwt',
    });
  });
});

describe('gateway.upstreams header options', () => {
  const upstreams = gatewaySection.shape.upstreams;
  const parse = (u: Record<string, unknown>) => upstreams.safeParse({ app: { url: 'http://a.test', ...u } });

  it('accepts names and prefixes', () => {
    expect(parse({ stripHeaders: ['X-Tenant', 'x_team_*'] }).success).toBe(true);
    expect(parse({ forwardHeaders: { mode: 'allowlist', allow: ['x-tenant', 'x-app-*'] } }).success).toBe(
      true,
    );
    expect(parse({ forwardHeaders: { mode: 'denylist' } }).success).toBe(true);
  });

  it('refuses what is not a header name, with the path of each bad entry', () => {
    const r = parse({ stripHeaders: ['X Tenant', '*', 'x-*-y', 'a:b', ''] });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual([
      'app.stripHeaders.0',
      'app.stripHeaders.1',
      'app.stripHeaders.2',
      'app.stripHeaders.3',
      'app.stripHeaders.4',
    ]);
  });

  it('refuses allowing what the gateway always removes, or the credentials', () => {
    const r = parse({
      forwardHeaders: {
        mode: 'allowlist',
        allow: ['X-WEBAUTH-USER', 'x-forwarded-*', 'Authorization', 'x-ok'],
      },
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual([
      'app.forwardHeaders.allow.0',
      'app.forwardHeaders.allow.1',
      'app.forwardHeaders.allow.2',
    ]);
  });

  it('refuses an unknown mode and an allowlist without its list', () => {
    expect(parse({ forwardHeaders: { mode: 'passthrough' } }).success).toBe(false);
    expect(parse({ forwardHeaders: { mode: 'allowlist' } }).success).toBe(false);
  });
});

describe(downstreamResponseHeaders.name, () => {
  it("keeps an upstream's own cookies but never lets it set StepGate's", () => {
    const out = downstreamResponseHeaders({
      'set-cookie': [
        'app=1; Path=/',
        '__Host-stepgate-session=forged; Path=/; Secure',
        '__host-STEPGATE-device=x',
      ],
      'content-type': 'text/plain',
      connection: 'close',
    });
    expect(out['set-cookie']).toEqual(['app=1; Path=/']);
    expect(out['content-type']).toBe('text/plain');
    expect(out.connection).toBeUndefined();
  });
});
