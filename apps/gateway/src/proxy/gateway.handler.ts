// The request pipeline: canonicalise, authenticate, match policy, get risk, decide, then forward, deny or
// demand step-up (RFC 9470). Every request, whatever its fate, produces one access event.
import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AccessDecision, RiskAssessment } from '@stepgate/contracts';
import { bearerToken, TokenError, TokenVerifier, type VerifiedToken } from '@stepgate/identity';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  canonicalHost,
  clientIpOf,
  deviceCookie,
  deviceOf,
  InvalidDeviceId,
  wantsHtml,
} from '../auth/request-identity';
import { ChallengeClient } from '../challenge/challenge.client';
import { GATEWAY_CONFIG, type GatewayConfig, type RoutePolicy } from '../config';
import { AccessEventPublisher } from '../events/access-event.publisher';
import { GatewayMetrics } from '../health/gateway.metrics';
import { decide } from '../policy/decide';
import { compileRoutes, matchRoute, type CompiledRoute } from '../policy/route-matcher';
import { RiskClient } from '../risk/risk.client';
import { BadRequestPath, canonicalTarget, policyMethod, type CanonicalTarget } from './canonical-request';
import { stripOverrideParams } from './forward-headers';
import { UpstreamForwarder } from './upstream.forwarder';

/** What happened to one request, gathered for its access event. */
interface Outcome {
  decision: AccessDecision;
  reason: string;
  status: number;
  route: string | null;
  token: VerifiedToken | null;
  deviceId: string | null;
  risk: RiskAssessment | null;
}

const CHALLENGE_PATHS = /^\/\.stepgate\/(factors|challenges)(\/|$)/;

@Injectable()
export class GatewayHandler {
  private readonly routes: CompiledRoute[];

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly verifier: TokenVerifier,
    private readonly risk: RiskClient,
    private readonly challenges: ChallengeClient,
    private readonly forwarder: UpstreamForwarder,
    private readonly events: AccessEventPublisher,
    private readonly metrics: GatewayMetrics,
  ) {
    this.routes = compileRoutes(config.policy.routes);
  }

  async handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const correlationId = randomUUID();
    const clientIp = clientIpOf(req.raw.socket.remoteAddress);
    void reply.header('x-correlation-id', correlationId);
    const outcome: Outcome = {
      decision: 'deny',
      reason: 'rejected',
      status: 400,
      route: null,
      token: null,
      deviceId: null,
      risk: null,
    };
    let target: CanonicalTarget | null = null;
    try {
      target = canonicalTarget(req.raw.url ?? '/');
      await this.process(req, reply, target, correlationId, clientIp, outcome);
    } catch (err) {
      if (err instanceof BadRequestPath || err instanceof InvalidDeviceId) {
        outcome.reason = err.code;
        outcome.status = 400;
        void reply.code(400).send({ error: 'invalid_request', message: err.message });
      } else {
        outcome.reason = 'internal_error';
        outcome.status = 500;
        req.log.error(err);
        if (!reply.sent) void reply.code(500).send({ error: 'internal_error' });
      }
    } finally {
      this.metrics.requests.inc({ route: outcome.route ?? 'none', decision: outcome.decision });
      this.events.publish({
        eventId: randomUUID(),
        time: new Date().toISOString(),
        correlationId,
        subject: outcome.token?.subject ?? null,
        sessionId: outcome.token?.sessionId ?? null,
        deviceId: outcome.deviceId,
        clientIp,
        userAgent: String(req.headers['user-agent'] ?? '').slice(0, 1024),
        method: req.method,
        host: (canonicalHost(req.headers.host) ?? 'invalid').slice(0, 255),
        path: (target?.path ?? '/').slice(0, 4096),
        route: outcome.route,
        decision: outcome.decision,
        reason: outcome.reason.slice(0, 256),
        status: outcome.status,
        riskScore: outcome.risk?.score ?? null,
        riskLevel: outcome.risk?.level ?? null,
        acr: outcome.token?.acr ?? null,
      });
    }
  }

  private async process(
    req: FastifyRequest,
    reply: FastifyReply,
    target: CanonicalTarget,
    correlationId: string,
    clientIp: string,
    outcome: Outcome,
  ): Promise<void> {
    const host = canonicalHost(req.headers.host);
    if (!host) throw new BadRequestPath('missing or invalid Host header');
    const forwardCtx = { clientIp, host, proto: 'http' as const, correlationId };
    const pathAndQuery = target.upstreamPath + stripOverrideParams(target.query);
    const device = deviceOf(req.headers, wantsHtml(req.headers));
    outcome.deviceId = device.deviceId;
    if (device.issueCookie) void reply.header('set-cookie', deviceCookie(device.issueCookie));

    // StepGate's own API: the challenge service authenticates these itself.
    if (CHALLENGE_PATHS.test(target.path)) {
      outcome.route = 'stepgate.challenge';
      outcome.decision = 'allow';
      outcome.reason = 'stepgate api';
      outcome.status = await this.forwarder.forward(
        'stepgate.challenge',
        req,
        reply,
        pathAndQuery,
        forwardCtx,
      );
      return;
    }

    const route = matchRoute(this.routes, host, policyMethod(req.method), target.path);
    if (!route) {
      outcome.reason = 'no_route';
      outcome.status = 404;
      void reply.code(404).send({ error: 'not_found', message: 'no route for this request' });
      return;
    }
    outcome.route = route.id;

    const token = await this.authenticate(req, reply, outcome);
    if (!token) return;
    if (token.kind === 'stepup' && token.deviceId !== device.deviceId) {
      this.unauthenticated(
        reply,
        outcome,
        'token_device_mismatch',
        'invalid_token',
        'token is bound to another device',
      );
      return;
    }
    outcome.token = token;

    const assessment = await this.risk.assess({
      correlationId,
      subject: token.subject,
      deviceId: device.deviceId,
      clientIp,
      userAgent: String(req.headers['user-agent'] ?? ''),
      route: route.id,
    });
    outcome.risk = assessment;
    const decision = decide({
      route,
      level: assessment?.level ?? null,
      token,
      acrLevels: this.config.policy.acr.levels,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    outcome.reason = decision.reason;

    switch (decision.outcome) {
      case 'allow':
        outcome.decision = 'allow';
        outcome.status = await this.forwarder.forward(route.upstream, req, reply, pathAndQuery, forwardCtx);
        return;
      case 'deny':
        outcome.decision = 'deny';
        outcome.status = 403;
        void reply
          .code(403)
          .send({ error: 'access_denied', reason: decision.reason, risk: riskBody(assessment) });
        return;
      case 'step_up':
        outcome.decision = 'step_up';
        await this.stepUp(
          req,
          reply,
          route,
          token,
          device.deviceId,
          assessment,
          decision,
          correlationId,
          target,
          outcome,
        );
        return;
    }
  }

  private async authenticate(
    req: FastifyRequest,
    reply: FastifyReply,
    outcome: Outcome,
  ): Promise<VerifiedToken | null> {
    const raw = bearerToken(req.headers.authorization);
    if (!raw) {
      this.unauthenticated(reply, outcome, 'no_token', null, 'a bearer token is required');
      return null;
    }
    try {
      return await this.verifier.verify(raw);
    } catch (err) {
      const message = err instanceof TokenError ? err.message : 'token could not be verified';
      this.unauthenticated(reply, outcome, 'invalid_token', 'invalid_token', message);
      return null;
    }
  }

  private unauthenticated(
    reply: FastifyReply,
    outcome: Outcome,
    reason: string,
    error: string | null,
    message: string,
  ): void {
    outcome.decision = 'unauthenticated';
    outcome.reason = reason;
    outcome.status = 401;
    const challenge = error
      ? `Bearer realm="stepgate", error="${error}", error_description="${message}"`
      : 'Bearer realm="stepgate"';
    void reply
      .code(401)
      .header('www-authenticate', challenge)
      .send({ error: error ?? 'unauthorized', message });
  }

  private async stepUp(
    req: FastifyRequest,
    reply: FastifyReply,
    route: RoutePolicy,
    token: VerifiedToken,
    deviceId: string | null,
    assessment: RiskAssessment | null,
    decision: { acr: string; maxAgeSeconds: number; reason: string },
    correlationId: string,
    target: CanonicalTarget,
    outcome: Outcome,
  ): Promise<void> {
    this.metrics.stepUps.inc({ route: route.id });
    const snapshot = assessment ?? {
      score: 100,
      level: 'critical' as const,
      signals: [{ name: 'risk_unavailable', weight: 0, detail: 'risk did not answer in time' }],
    };
    const opened = await this.challenges.open({
      correlationId,
      subject: token.subject,
      sessionId: token.sessionId,
      deviceId,
      route: route.id,
      requiredAcr: decision.acr,
      maxAgeSeconds: decision.maxAgeSeconds,
      risk: { score: snapshot.score, level: snapshot.level, signals: snapshot.signals },
    });
    const wwwAuthenticate = `Bearer realm="stepgate", error="insufficient_user_authentication", error_description="step-up authentication required", acr_values="${decision.acr}", max_age=${decision.maxAgeSeconds}`;
    if (!opened) {
      outcome.status = 503;
      outcome.reason = `${decision.reason}; challenge service unavailable`;
      void reply
        .code(503)
        .send({ error: 'challenge_unavailable', message: 'step-up is required but cannot be offered now' });
      return;
    }
    if (opened.status === 'denied') {
      outcome.decision = 'deny';
      outcome.status = 403;
      outcome.reason = `${decision.reason}; ${opened.reason}`;
      void reply
        .code(403)
        .send({ error: 'access_denied', reason: opened.reason, risk: riskBody(assessment) });
      return;
    }
    outcome.status = 401;
    const body = {
      error: 'insufficient_user_authentication',
      error_description: 'step-up authentication required',
      acr_values: decision.acr,
      max_age: decision.maxAgeSeconds,
      risk: riskBody(assessment),
    };
    if (opened.status === 'enrolment_required') {
      void reply
        .code(401)
        .header('www-authenticate', wwwAuthenticate)
        .send({ ...body, enrolment: { reason: opened.reason, href: '/.stepgate/factors/totp' } });
      return;
    }
    const href = `/.stepgate/challenges/${opened.challengeId}`;
    if (wantsHtml(req.headers)) {
      outcome.status = 303;
      const returnTo = encodeURIComponent(target.upstreamPath + target.query);
      void reply.code(303).header('location', `${href}?return_to=${returnTo}`).send();
      return;
    }
    void reply
      .code(401)
      .header('www-authenticate', wwwAuthenticate)
      .send({
        ...body,
        challenge: {
          id: opened.challengeId,
          methods: opened.methods,
          href: `${href}/verify`,
          expires_at: opened.expiresAt,
        },
      });
  }
}

function riskBody(a: RiskAssessment | null): {
  score: number | null;
  level: string | null;
  reasons: string[];
} {
  if (!a) return { score: null, level: null, reasons: ['risk service did not answer in time'] };
  return {
    score: a.score,
    level: a.level,
    reasons: a.signals.filter((s) => s.weight > 0).map((s) => s.detail),
  };
}
