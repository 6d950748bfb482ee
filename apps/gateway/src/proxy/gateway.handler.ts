// The request pipeline: canonicalise, authenticate (bearer or browser session), match policy, get risk,
// decide, then forward, deny or demand step-up (RFC 9470 for API clients, a redirect for browsers). The
// same pipeline judges WebSocket upgrades. Every request, whatever its fate, produces one access event and
// one access log line.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  clientReasons,
  type AccessDecision,
  type ChallengeMethod,
  type DeviceSource,
  type RiskAssessment,
} from '@stepgate/contracts';
import {
  ASSERTION_HEADER,
  dpopDeviceId,
  IdentityAssertionSigner,
  sessionBindingOf,
  TokenError,
  TokenVerifier,
  type VerifiedToken,
} from '@stepgate/identity';
import { safeReturnTo } from '@stepgate/redirect';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientAddress, TrustedProxies, unmapped } from '../auth/client-address';
import { challengeFor, CredentialError, Credentials, type Credential } from '../auth/credentials';
import {
  cookieValue,
  DEVICE_COOKIE,
  deviceCookie,
  deviceOf,
  InvalidDeviceId,
  wantsHtml,
} from '../auth/request-identity';
import { SESSION_COOKIE, SessionCodec, type Session } from '../auth/session';
import { sameOrigin } from '../auth/same-origin';
import { SessionRevocations } from '../auth/session-revocations';
import { ChallengeClient } from '../challenge/challenge.client';
import { GATEWAY_CONFIG, type GatewayConfig, type RoutePolicy } from '../config';
import { AccessEventPublisher } from '../events/access-event.publisher';
import { GatewayMetrics } from '../health/gateway.metrics';
import { decide, type Decision } from '../policy/decide';
import { unmetRequirement } from '../policy/requirements';
import { GatewayPolicy } from '../policy/gateway-policy.service';
import { matchRoute } from '../policy/route-matcher';
import { RiskClient, UnassessableContext } from '../risk/risk.client';
import {
  ALLOWED_METHODS,
  BadRequestPath,
  canonicalHost,
  canonicalTarget,
  policyMethod,
  withoutPrefix,
  type CanonicalTarget,
} from './canonical-request';
import { stripOverrideParams, type ForwardContext } from './forward-headers';
import { BadRequestHeader, checkRequestHeaders } from './request-headers';
import {
  CHALLENGE_UPSTREAM,
  UpstreamForwarder,
  writeRawResponse,
  type ForwardRequest,
} from './upstream.forwarder';

/** What happened to one request, gathered for its access event and log line. */
interface Outcome {
  decision: AccessDecision;
  reason: string;
  status: number;
  route: string | null;
  token: VerifiedToken | null;
  deviceId: string | null;
  deviceSource: DeviceSource | null;
  risk: RiskAssessment | null;
  /** A monitor-mode route forwarded what enforcement would have stepped up or denied. */
  monitored: boolean;
  /** Allowed because the token satisfied the step-up the level asks for. */
  steppedUp: boolean;
  path: string | null;
  host: string | null;
  /** The policy version the request was judged under (null: the config file's, before any version arrived). */
  policyVersion: number | null;
}

/** One request in flight. */
interface Exchange {
  raw: IncomingMessage;
  correlationId: string;
  clientIp: string;
  proto: 'http' | 'https';
  started: number;
  outcome: Outcome;
  /** Set-Cookie values for the answer (device cookie, refreshed or replaced session). */
  cookies: string[];
}

type Verdict =
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'forward'; forward: ForwardRequest; elevate?: Elevation };

/** A browser's challenge verification: on success the stepped-up token goes into a new session. */
interface Elevation {
  session: Session;
  deviceId: string;
  returnTo: string;
  html: boolean;
}

const CHALLENGE_PATHS = /^\/\.stepgate\/(factors|challenges)(\/|$)/;
const VERIFY_PATH = /^\/\.stepgate\/challenges\/[^/]+\/verify$/;
const ALLOWED = new Set<string>(ALLOWED_METHODS);
const ALLOW_HEADER = ALLOWED_METHODS.join(', ');

@Injectable()
export class GatewayHandler {
  private readonly trusted: TrustedProxies;
  private readonly accessLog = new Logger('Access');
  private readonly publicOrigin: string | null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly verifier: TokenVerifier,
    private readonly risk: RiskClient,
    private readonly challenges: ChallengeClient,
    private readonly forwarder: UpstreamForwarder,
    private readonly events: AccessEventPublisher,
    private readonly metrics: GatewayMetrics,
    private readonly sessions: SessionCodec,
    private readonly assertions: IdentityAssertionSigner,
    private readonly policy: GatewayPolicy,
    private readonly credentials: Credentials,
    private readonly revocations: SessionRevocations,
  ) {
    this.trusted = new TrustedProxies(config.gateway.trustedProxies);
    const publicUrl = config.gateway.signIn?.publicUrl;
    this.publicOrigin = publicUrl ? new URL(publicUrl).origin : null;
  }

  async handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const x = this.begin(req.raw);
    void reply.header('x-correlation-id', x.correlationId);
    try {
      const verdict = await this.evaluate(x, false);
      if (x.cookies.length > 0) void reply.header('set-cookie', x.cookies);
      if (verdict.kind === 'respond') {
        x.outcome.status = verdict.status;
        void reply.code(verdict.status);
        if (verdict.headers) void reply.headers(verdict.headers);
        void (verdict.body === undefined ? reply.send() : reply.send(verdict.body));
      } else if (verdict.elevate) {
        x.outcome.status = await this.elevate(x, verdict.forward, verdict.elevate, reply);
      } else {
        x.outcome.status = await this.forwarder.forward(verdict.forward, reply);
      }
    } catch (err) {
      this.failed(x, err);
      if (!reply.sent) void reply.code(x.outcome.status).send(errorBody(err, x.outcome.status));
    } finally {
      this.finish(x);
    }
  }

  /** A WebSocket (or other) upgrade: judged like any request, then piped to the upstream. */
  async handleUpgrade(raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const x = this.begin(raw);
    socket.on('error', () => socket.destroy());
    try {
      let verdict: Verdict;
      if (raw.method !== 'GET' || String(raw.headers.upgrade).toLowerCase() !== 'websocket') {
        x.outcome.reason = 'unsupported_upgrade';
        verdict = {
          kind: 'respond',
          status: 400,
          body: { error: 'invalid_request', message: 'only WebSocket upgrades (GET) are proxied' },
        };
      } else verdict = await this.evaluate(x, true);
      if (verdict.kind === 'respond') {
        x.outcome.status = verdict.status;
        writeRawResponse(
          socket,
          verdict.status,
          {
            'content-type': 'application/json',
            'x-correlation-id': x.correlationId,
            ...verdict.headers,
            ...(x.cookies.length > 0 ? { 'set-cookie': x.cookies } : {}),
          },
          Buffer.from(verdict.body === undefined ? '' : JSON.stringify(verdict.body)),
        );
      } else {
        x.outcome.status = await this.forwarder.upgrade(verdict.forward, socket, head);
      }
    } catch (err) {
      this.failed(x, err);
      writeRawResponse(
        socket,
        x.outcome.status,
        { 'content-type': 'application/json', 'x-correlation-id': x.correlationId },
        Buffer.from(JSON.stringify(errorBody(err, x.outcome.status))),
      );
    } finally {
      this.finish(x);
    }
  }

  /**
   * CONNECT (a tunnel request): Node hands it over apart from other requests; answered like any method the
   * gateway does not proxy, 405 with Allow, and evented, instead of a closed connection.
   */
  handleConnect(raw: IncomingMessage, socket: Duplex): void {
    const x = this.begin(raw);
    socket.on('error', () => socket.destroy());
    x.outcome.reason = 'method_not_allowed';
    x.outcome.status = 405;
    writeRawResponse(
      socket,
      405,
      { 'content-type': 'application/json', allow: ALLOW_HEADER, 'x-correlation-id': x.correlationId },
      Buffer.from(JSON.stringify({ error: 'method_not_allowed', message: 'CONNECT is not accepted' })),
    );
    this.finish(x);
  }

  /**
   * A request that arrives while the gateway shuts down (on a connection opened before): 503 with
   * `Connection: close`, so the client goes elsewhere, and an access event like every answer.
   */
  refuseWhileDraining(req: FastifyRequest, reply: FastifyReply): void {
    const x = this.begin(req.raw);
    x.outcome.reason = 'shutting_down';
    x.outcome.status = 503;
    void reply
      .code(503)
      .headers({ connection: 'close', 'x-correlation-id': x.correlationId })
      .send({ error: 'service_unavailable', message: 'the gateway is shutting down' });
    this.finish(x);
  }

  private begin(raw: IncomingMessage): Exchange {
    const peer = raw.socket.remoteAddress;
    const clientIp = clientAddress(peer, raw.headers['x-forwarded-for'], this.trusted);
    // A trusted proxy that terminated TLS says so; nobody else is believed.
    const proto =
      this.trusted.has(unmapped(peer ?? '')) && raw.headers['x-forwarded-proto'] === 'https'
        ? 'https'
        : 'http';
    return {
      raw,
      correlationId: randomUUID(),
      clientIp,
      proto,
      started: performance.now(),
      cookies: [],
      outcome: {
        decision: 'deny',
        reason: 'rejected',
        status: 400,
        route: null,
        token: null,
        deviceId: null,
        deviceSource: null,
        risk: null,
        monitored: false,
        steppedUp: false,
        path: null,
        host: null,
        policyVersion: this.policy.current.version,
      },
    };
  }

  private failed(x: Exchange, err: unknown): void {
    if (err instanceof BadRequestPath || err instanceof InvalidDeviceId || err instanceof BadRequestHeader) {
      x.outcome.reason = err.code;
      x.outcome.status = 400;
    } else {
      x.outcome.reason = 'internal_error';
      x.outcome.status = 500;
      this.accessLog.error(
        `${x.correlationId}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    }
  }

  private finish(x: Exchange): void {
    const o = x.outcome;
    const raw = x.raw;
    this.metrics.requests.inc({ route: o.route ?? 'none', decision: o.decision });
    const seconds = (performance.now() - x.started) / 1000;
    this.metrics.latency.observe({ decision: o.decision }, seconds);
    this.events.publish({
      eventId: randomUUID(),
      time: new Date().toISOString(),
      correlationId: x.correlationId,
      subject: o.token?.subject ?? null,
      sessionId: o.token?.sessionId ?? null,
      deviceId: o.deviceId,
      deviceSource: o.deviceId === null ? null : o.deviceSource,
      clientIp: x.clientIp,
      userAgent: String(raw.headers['user-agent'] ?? '').slice(0, 1024),
      method: String(raw.method),
      host: (o.host ?? 'invalid').slice(0, 255),
      path: (o.path ?? '/').slice(0, 4096),
      route: o.route,
      decision: o.decision,
      reason: o.reason.slice(0, 256),
      status: o.status,
      riskScore: o.risk?.score ?? null,
      riskLevel: o.risk?.level ?? null,
      acr: o.token?.acr ?? null,
      policyVersion: o.policyVersion,
      monitored: o.monitored,
      steppedUp: o.steppedUp,
    });
    if (this.config.gateway.accessLog) {
      this.accessLog.log({
        msg: 'request',
        correlationId: x.correlationId,
        method: raw.method,
        host: o.host,
        path: o.path,
        route: o.route,
        decision: o.decision,
        reason: o.reason,
        status: o.status,
        policyVersion: o.policyVersion,
        latencyMs: Math.round(seconds * 10_000) / 10,
        clientIp: x.clientIp,
        subject: o.token?.subject ?? null,
      });
    }
  }

  private async evaluate(x: Exchange, upgrade: boolean): Promise<Verdict> {
    const { raw, outcome } = x;
    const headers = raw.headers;
    const method = String(raw.method);
    if (!ALLOWED.has(method)) {
      outcome.reason = 'method_not_allowed';
      return {
        kind: 'respond',
        status: 405,
        headers: { allow: ALLOW_HEADER },
        body: { error: 'method_not_allowed', message: `${method} is not accepted` },
      };
    }
    checkRequestHeaders(raw.rawHeaders);
    const target = canonicalTarget(raw.url ?? '/');
    outcome.path = target.path;
    const host = canonicalHost(headers.host, x.proto);
    if (!host) throw new BadRequestPath('missing or invalid Host header');
    outcome.host = host.hostname;
    const declared = headers['content-length'];
    if (declared !== undefined && Number(declared) > this.config.gateway.maxBodyBytes) {
      outcome.reason = 'body_too_large';
      return {
        kind: 'respond',
        status: 413,
        headers: { connection: 'close' },
        body: {
          error: 'payload_too_large',
          message: `request body larger than ${this.config.gateway.maxBodyBytes} bytes`,
        },
      };
    }
    const html = !upgrade && wantsHtml(headers);
    const now = Math.floor(Date.now() / 1000);
    let credential: Credential;
    try {
      credential = await this.credentials.of(raw, this.requestUrl(x, host.authority, target), now);
    } catch (err) {
      if (err instanceof CredentialError) return this.refused(outcome, err);
      throw err;
    }
    // A DPoP client's device is its key, whatever X-Device-Id says: a copied header names no key.
    const device =
      credential.scheme === 'dpop'
        ? { deviceId: dpopDeviceId(credential.jkt), source: 'dpop' as const, issueCookie: null }
        : deviceOf(headers, html);
    if (device.issueCookie) x.cookies.push(deviceCookie(device.issueCookie));
    const ctx: ForwardContext = {
      clientIp: x.clientIp,
      host: host.authority,
      proto: x.proto,
      correlationId: x.correlationId,
    };
    const forward = (upstream: string, set?: Record<string, string>, prefix?: string): ForwardRequest => ({
      upstream,
      method,
      pathAndQuery: withoutPrefix(target.upstreamPath, prefix) + stripOverrideParams(target.query),
      req: raw,
      ctx: set ? { ...ctx, set } : ctx,
      maxBodyBytes: this.config.gateway.maxBodyBytes,
    });
    const hasAuthorization = headers.authorization !== undefined;
    // Browsers without an Authorization header are identified by their session; the device is then the
    // device cookie, whatever a script put in X-Device-Id.
    const browserDevice = cookieValue(headers.cookie, DEVICE_COOKIE) ?? device.issueCookie;
    const session =
      !hasAuthorization && headers.cookie?.includes(SESSION_COOKIE)
        ? await this.sessionIdentity(x, browserDevice, now)
        : null;
    outcome.deviceId = session ? browserDevice : device.deviceId;
    outcome.deviceSource = session ? 'cookie' : device.source;

    // StepGate's own API: the challenge service authenticates these itself. A browser's session stands in
    // for the bearer, and its passed verification elevates the session instead of reaching page scripts.
    if (CHALLENGE_PATHS.test(target.path)) {
      outcome.route = 'stepgate.challenge';
      outcome.decision = 'allow';
      outcome.reason = 'stepgate api';
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
            : device.source
              ? { 'x-stepgate-device-source': device.source }
              : {};
        return { kind: 'forward', forward: forward(CHALLENGE_UPSTREAM, said) };
      }
      outcome.token = session.token;
      // X-StepGate-Browser tells the challenge service the bearer came from a cookie, so it demands its
      // CSRF token; clients cannot send it themselves (x-stepgate-* is stripped from every request).
      const f = forward(CHALLENGE_UPSTREAM, {
        authorization: `Bearer ${session.raw}`,
        'x-device-id': browserDevice,
        'x-stepgate-device-source': 'cookie',
        'x-stepgate-browser': '1',
      });
      if (method !== 'POST' || !VERIFY_PATH.test(target.path) || upgrade)
        return { kind: 'forward', forward: f };
      const returnTo = safeReturnTo(new URLSearchParams(target.query.slice(1)).get('return_to')) ?? '/';
      return {
        kind: 'forward',
        forward: f,
        elevate: { session: session.session, deviceId: browserDevice, returnTo, html },
      };
    }

    const policy = this.policy.current;
    outcome.policyVersion = policy.version;
    const route = matchRoute(policy.routes, host.hostname, policyMethod(method), target.path);
    if (!route) {
      outcome.reason = 'no_route';
      return {
        kind: 'respond',
        status: 404,
        body: { error: 'not_found', message: 'no route for this request' },
      };
    }
    outcome.route = route.id;

    let token: VerifiedToken;
    if (session) {
      // A cookie is sent whoever made the page: state-changing requests and WebSocket upgrades that ride
      // on the session must come from this origin (SameSite=Lax does not cover sibling subdomains).
      if (
        (upgrade || !SAFE_METHODS.has(method)) &&
        !sameOrigin(headers, [`${x.proto}://${host.authority}`])
      ) {
        outcome.decision = 'deny';
        outcome.reason = 'cross_origin';
        return {
          kind: 'respond',
          status: 403,
          body: { error: 'cross_origin_request', message: 'this request must come from this origin' },
        };
      }
      token = session.token;
    } else if (credential.scheme === 'none') {
      if (html && this.config.gateway.signIn && (method === 'GET' || method === 'HEAD')) {
        outcome.decision = 'unauthenticated';
        outcome.reason = 'sign_in';
        const back = safeReturnTo(target.upstreamPath + target.query) ?? '/';
        return {
          kind: 'respond',
          status: 303,
          headers: { location: `/.stepgate/auth/login?return_to=${encodeURIComponent(back)}` },
        };
      }
      return this.unauthenticated(outcome, 'no_token', null, 'a bearer token is required');
    } else {
      try {
        token = await this.verifier.verify(credential.token, now);
      } catch (err) {
        const message = err instanceof TokenError ? err.message : 'token could not be verified';
        if (credential.scheme === 'dpop')
          return this.refused(outcome, new CredentialError('DPoP', 'invalid_token', message));
        return this.unauthenticated(outcome, 'invalid_token', 'invalid_token', message);
      }
      try {
        Credentials.checkBinding(credential, token);
      } catch (err) {
        if (err instanceof CredentialError) return this.refused(outcome, err);
        throw err;
      }
    }
    const deviceId = outcome.deviceId;
    if (token.kind === 'stepup' && token.deviceId !== deviceId) {
      return this.unauthenticated(
        outcome,
        'token_device_mismatch',
        'invalid_token',
        'token is bound to another device',
      );
    }
    outcome.token = token;

    const unmet = unmetRequirement(route, token.claims);
    let decision: Decision;
    let assessment: RiskAssessment | null = null;
    if (unmet) decision = { outcome: 'deny', reason: unmet };
    else {
      let unassessable: string | null = null;
      try {
        assessment = await this.risk.assess({
          correlationId: x.correlationId,
          subject: token.subject,
          deviceId,
          deviceSource: outcome.deviceSource,
          clientIp: x.clientIp,
          userAgent: String(headers['user-agent'] ?? ''),
          route: route.id,
        });
      } catch (err) {
        if (!(err instanceof UnassessableContext)) throw err;
        unassessable = err.message;
      }
      outcome.risk = assessment;
      decision =
        unassessable !== null
          ? { outcome: 'deny', reason: unassessable }
          : decide({
              route,
              level: assessment?.level ?? null,
              token,
              acrLevels: policy.acrLevels,
              nowSeconds: now,
            });
    }
    outcome.reason = decision.reason;
    outcome.steppedUp = decision.outcome === 'allow' && decision.steppedUp === true;

    // Monitor mode tries out risk decisions; it never lets through someone the route's `require` refuses.
    if (decision.outcome !== 'allow' && route.mode === 'monitor' && !unmet) {
      // Computed, counted, logged and evented as what enforcement would have done; forwarded all the same.
      this.metrics.monitored.inc({ route: route.id, decision: decision.outcome });
      outcome.monitored = true;
      outcome.reason = `monitor: would ${decision.outcome} (${decision.reason})`;
      decision = { outcome: 'allow', reason: outcome.reason };
    }
    switch (decision.outcome) {
      case 'allow': {
        outcome.decision = 'allow';
        let assertion: string;
        try {
          assertion = await this.assertions.assertion({
            token,
            audience: this.config.gateway.upstreams[route.upstream]?.audience ?? route.upstream,
            route: route.id,
            deviceId,
            risk: assessment,
          });
        } catch (err) {
          if (!(err instanceof TokenError)) throw err;
          return this.unauthenticated(outcome, 'invalid_token', 'invalid_token', err.message);
        }
        return {
          kind: 'forward',
          forward: forward(route.upstream, { [ASSERTION_HEADER]: assertion }, route.stripPrefix),
        };
      }
      case 'deny':
        outcome.decision = 'deny';
        return {
          kind: 'respond',
          status: 403,
          body: { error: 'access_denied', reason: decision.reason, risk: riskBody(assessment) },
        };
      case 'step_up':
        outcome.decision = 'step_up';
        return this.stepUp(x, route, token, deviceId, assessment, decision, target, html, credential.scheme);
    }
  }

  /** The browser's session and the token that speaks for it now: the stepped-up one while it lasts. */
  private async sessionIdentity(
    x: Exchange,
    deviceId: string | null,
    now: number,
  ): Promise<{ session: Session; token: VerifiedToken; raw: string } | null> {
    const session = await this.sessions.open(x.raw.headers.cookie, now);
    // A logged-out or replaced session id (on any instance) is no session.
    if (!session || this.revocations.refuses(session)) {
      x.cookies.push(this.sessions.clearCookie());
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
      x.cookies.push(this.sessions.clearCookie());
      return null;
    }
    if (this.sessions.needsTouch(session, now))
      x.cookies.push(this.sessions.cookie(await this.sessions.seal({ ...session, seenAt: now })));
    return { session, ...found };
  }

  /** Forwards a browser's challenge verification; a pass becomes a new session, never a token in the page. */
  private async elevate(x: Exchange, f: ForwardRequest, e: Elevation, reply: FastifyReply): Promise<number> {
    const answer = await this.forwarder.exchange(f);
    let stepUp: VerifiedToken | null = null;
    let raw: string | null = null;
    if (answer.status === 200) {
      try {
        const body = JSON.parse(answer.body.toString('utf8')) as { access_token?: unknown };
        raw = typeof body.access_token === 'string' ? body.access_token : null;
        stepUp = raw ? await this.verifier.verify(raw) : null;
      } catch {
        stepUp = null;
      }
    }
    if (
      !stepUp ||
      !raw ||
      stepUp.kind !== 'stepup' ||
      stepUp.subject !== e.session.sub ||
      stepUp.deviceId !== e.deviceId
    ) {
      if (answer.status === 200) {
        x.outcome.reason = 'challenge answer not usable';
        void reply
          .code(502)
          .send({ error: 'bad_gateway', message: 'the challenge service answer was not usable' });
        return 502;
      }
      void reply.code(answer.status).headers(answer.headers).send(answer.body);
      return answer.status;
    }
    const now = Math.floor(Date.now() / 1000);
    // A new session id on elevation; the absolute timeout still counts from sign-in.
    const elevated = this.sessions.newSession(
      {
        sub: e.session.sub,
        accessToken: e.session.accessToken,
        stepUpToken: raw,
        acr: stepUp.acr,
        authTime: stepUp.authTime,
      },
      now,
      e.session.createdAt,
    );
    const cookies = [...x.cookies.filter((c) => !c.startsWith(`${SESSION_COOKIE}=`))];
    cookies.push(this.sessions.cookie(await this.sessions.seal(elevated)));
    // The replaced cookie stops working everywhere, not only in this browser.
    await this.revocations.revoke(e.session, 'elevated', x.correlationId);
    x.outcome.reason = 'step-up passed; session elevated';
    x.outcome.token = stepUp;
    void reply.header('set-cookie', cookies).header('cache-control', 'no-store');
    if (e.html) {
      void reply.code(303).header('location', e.returnTo).send();
      return 303;
    }
    void reply.code(200).send({ status: 'passed', return_to: e.returnTo });
    return 200;
  }

  private unauthenticated(outcome: Outcome, reason: string, error: string | null, message: string): Verdict {
    outcome.decision = 'unauthenticated';
    outcome.reason = reason;
    const challenge = error
      ? `Bearer realm="stepgate", error="${error}", error_description="${quotable(message)}"`
      : 'Bearer realm="stepgate"';
    return {
      kind: 'respond',
      status: 401,
      headers: { 'www-authenticate': challenge },
      body: { error: error ?? 'unauthorized', message },
    };
  }

  /** Credentials refused: RFC 6750 / RFC 9449 section 7.1 in the scheme the client used. */
  private refused(outcome: Outcome, err: CredentialError): Verdict {
    outcome.decision = 'unauthenticated';
    outcome.reason = err.status === 503 ? 'dpop_replay_unavailable' : err.code;
    if (err.status === 503) {
      outcome.decision = 'deny';
      return {
        kind: 'respond',
        status: 503,
        headers: { 'retry-after': '1' },
        body: { error: 'temporarily_unavailable', message: err.message },
      };
    }
    const headers: Record<string, string> = {
      'www-authenticate': challengeFor(err, this.credentials.algorithms),
    };
    const nonce = err.code === 'use_dpop_nonce' ? this.credentials.nonce() : null;
    if (nonce) headers['dpop-nonce'] = nonce;
    return {
      kind: 'respond',
      status: err.code === 'invalid_request' ? 400 : 401,
      headers,
      body: { error: err.code, message: err.message },
    };
  }

  /**
   * The request's URL as the client addressed it, for a DPoP proof's `htu`: the configured public origin (or
   * this request's), and the path as received, before the query.
   */
  private requestUrl(x: Exchange, authority: string, target: CanonicalTarget): string {
    const origin = this.publicOrigin ?? `${x.proto}://${authority}`;
    const received = (x.raw.url ?? '/').split('?', 1)[0]!;
    return origin + (received.startsWith('/') ? received : target.path);
  }

  private async stepUp(
    x: Exchange,
    route: RoutePolicy,
    token: VerifiedToken,
    deviceId: string | null,
    assessment: RiskAssessment | null,
    decision: { acr: string; maxAgeSeconds: number; reason: string },
    target: CanonicalTarget,
    html: boolean,
    scheme: Credential['scheme'],
  ): Promise<Verdict> {
    const outcome = x.outcome;
    this.metrics.stepUps.inc({ route: route.id });
    const snapshot = assessment ?? {
      score: 100,
      level: 'critical' as const,
      signals: [{ name: 'risk_unavailable', weight: 0, detail: 'risk did not answer in time' }],
    };
    // A DPoP client is answered in its scheme (RFC 9449 section 7.1), with the algorithms it may prove with.
    const wwwAuthenticate =
      scheme === 'dpop'
        ? `DPoP realm="stepgate", error="insufficient_user_authentication", error_description="step-up authentication required", acr_values="${decision.acr}", max_age=${decision.maxAgeSeconds}, algs="${this.credentials.algorithms.join(' ')}"`
        : `Bearer realm="stepgate", error="insufficient_user_authentication", error_description="step-up authentication required", acr_values="${decision.acr}", max_age=${decision.maxAgeSeconds}`;
    const body = {
      error: 'insufficient_user_authentication',
      error_description: 'step-up authentication required',
      acr_values: decision.acr,
      max_age: decision.maxAgeSeconds,
      risk: riskBody(assessment),
    };
    if (deviceId === null) {
      // A challenge's token is bound to a device, and this client sends none: it can still step up at its
      // issuer (RFC 9470: a token with this acr and a fresh auth_time), or bind its tokens with DPoP.
      return {
        kind: 'respond',
        status: 401,
        headers: { 'www-authenticate': wwwAuthenticate },
        body: {
          ...body,
          message:
            'StepGate offers challenges to clients with a device (a DPoP key or X-Device-Id); ' +
            'or present a token from your issuer with this acr and a fresh authentication',
        },
      };
    }
    const opened = await this.challenges.open({
      correlationId: x.correlationId,
      subject: token.subject,
      // What binds the challenge to this sign-in: the token's sid, else its jti, else a hash of its claims.
      sessionId: sessionBindingOf(token),
      deviceId,
      route: route.id,
      requiredAcr: decision.acr,
      maxAgeSeconds: decision.maxAgeSeconds,
      risk: { score: snapshot.score, level: snapshot.level, signals: snapshot.signals },
    });
    if (!opened) {
      outcome.reason = `${decision.reason}; challenge service unavailable`;
      return {
        kind: 'respond',
        status: 503,
        body: { error: 'challenge_unavailable', message: 'step-up is required but cannot be offered now' },
      };
    }
    if (opened.status === 'denied') {
      outcome.decision = 'deny';
      outcome.reason = `${decision.reason}; ${opened.reason}`;
      return {
        kind: 'respond',
        status: 403,
        body: { error: 'access_denied', reason: opened.reason, risk: riskBody(assessment) },
      };
    }
    if (opened.status === 'enrolment_required') {
      if (html) {
        // A browser is sent to enrol on the factors page, and comes back here afterwards.
        const returnTo = safeReturnTo(target.upstreamPath + target.query) ?? '/';
        return {
          kind: 'respond',
          status: 303,
          headers: { location: `/.stepgate/factors?return_to=${encodeURIComponent(returnTo)}` },
        };
      }
      return {
        kind: 'respond',
        status: 401,
        headers: { 'www-authenticate': wwwAuthenticate },
        body: { ...body, enrolment: { reason: opened.reason, href: enrolmentHref(opened.methods[0]) } },
      };
    }
    const href = `/.stepgate/challenges/${opened.challengeId}`;
    if (html) {
      // Checked again on the way out: only ever a path on this origin.
      const returnTo = safeReturnTo(target.upstreamPath + target.query) ?? '/';
      return {
        kind: 'respond',
        status: 303,
        headers: { location: `${href}?return_to=${encodeURIComponent(returnTo)}` },
      };
    }
    return {
      kind: 'respond',
      status: 401,
      headers: { 'www-authenticate': wwwAuthenticate },
      body: {
        ...body,
        challenge: {
          id: opened.challengeId,
          methods: opened.methods,
          href: `${href}/verify`,
          expires_at: opened.expiresAt,
        },
      },
    };
  }
}

function errorBody(err: unknown, status: number): Record<string, string> {
  if (status === 400 && err instanceof Error) return { error: 'invalid_request', message: err.message };
  return { error: 'internal_error' };
}

/**
 * What the client is told about the risk: the score, the level and plain reasons, never the signals'
 * details, which explain with the account's profile (its usual networks, places, browsers).
 */
function riskBody(a: RiskAssessment | null): {
  score: number | null;
  level: string | null;
  reasons: string[];
} {
  if (!a)
    return { score: null, level: null, reasons: clientReasons([{ name: 'risk_unavailable', weight: 1 }]) };
  return { score: a.score, level: a.level, reasons: clientReasons(a.signals) };
}

/** Where an API client enrols the method a step-up asked for (a passkey leads to the passkey ceremony). */
function enrolmentHref(method: ChallengeMethod | undefined): string {
  return method === 'webauthn'
    ? '/.stepgate/factors/webauthn/registration/options'
    : '/.stepgate/factors/totp';
}

/** A value safe inside a quoted header parameter: printable ASCII without quotes or backslashes. */
function quotable(s: string): string {
  return s.replace(/[^\x20-\x7e]|["\\]/g, '').slice(0, 200);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
