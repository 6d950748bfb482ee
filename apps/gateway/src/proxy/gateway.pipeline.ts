// The gateway's request pipeline, as stages that each take a value and return one: the request (canonical
// method, target, Host), who sends it (credential, device, session), StepGate's own API, the route, the
// token it speaks with, the policy decision (requirements, risk, monitor mode), and the answer: forward with
// an identity assertion, deny, or step-up. The outcome is a Judgement: the answer, the facts for the access
// record and the cookies to set; the transports (gateway.handler.ts) write it.
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { RiskAssessment } from '@stepgate/contracts';
import {
  ASSERTION_HEADER,
  IdentityAssertionSigner,
  TokenError,
  type VerifiedToken,
} from '@stepgate/identity';
import { InvalidDeviceId } from '../auth/request-identity';
import { GATEWAY_CONFIG, type GatewayConfig, type RoutePolicy } from '../config';
import type { Decision } from '../policy/decide';
import { GatewayPolicyService } from '../policy/gateway-policy.service';
import { matchRoute } from '../policy/route-matcher';
import { policyMethod } from './canonical-request';
import { DecisionStage } from './stages/decision.stage';
import { IdentityStage, type Identity } from './stages/identity.stage';
import {
  initialFacts,
  isStop,
  respond,
  riskBody,
  unauthenticated,
  type AccessFacts,
  type Answer,
  type Judgement,
  type RequestContext,
  type Respond,
  type Stop,
} from './stages/judgement';
import { badRequest, forwardTo, readRequest, type GatewayRequest } from './stages/request.stage';
import { stepgateApi } from './stages/stepgate-api.stage';
import { StepUpStage } from './stages/step-up.stage';

@Injectable()
export class GatewayPipeline {
  private readonly log = new Logger('Access');

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly policy: GatewayPolicyService,
    private readonly identity: IdentityStage,
    private readonly decisions: DecisionStage,
    private readonly stepUps: StepUpStage,
    private readonly assertions: IdentityAssertionSigner,
  ) {}

  /** The facts of a request before any stage has run: what a request refused outright is recorded with. */
  initialFacts(): AccessFacts {
    return initialFacts(this.policy.current.version);
  }

  /** Judges one request (or WebSocket upgrade). Never throws: a failure is a 400 or 500 judgement. */
  async judge(ctx: RequestContext, upgrade: boolean): Promise<Judgement> {
    // What has been learnt so far, kept here so that a stage that throws is still recorded with it.
    let facts = this.initialFacts();
    let cookies: readonly string[] = [];
    const stop = (s: Stop): Judgement => ({ answer: s.stop, facts: { ...facts, ...s.facts }, cookies });
    try {
      const req = readRequest(ctx, upgrade, this.config.gateway.maxBodyBytes);
      if (isStop(req)) return { answer: req.stop, facts: { ...facts, ...req.facts }, cookies: [] };
      facts = { ...facts, path: req.target.path, host: req.host.hostname };

      const now = Math.floor(Date.now() / 1000);
      const who = await this.identity.identify(ctx, req, now);
      if (isStop(who)) return stop(who);
      cookies = who.cookies;
      facts = { ...facts, deviceId: who.deviceId, deviceSource: who.deviceSource };

      const api = stepgateApi(ctx, req, who);
      if (api) return { answer: api.answer, facts: { ...facts, ...api.facts }, cookies };

      const policy = this.policy.current;
      facts = { ...facts, policyVersion: policy.version };
      const route = matchRoute(policy.routes, req.host.hostname, policyMethod(req.method), req.target.path);
      if (!route)
        return stop({
          stop: respond(404, { error: 'not_found', message: 'no route for this request' }),
          facts: { reason: 'no_route' },
        });
      facts = { ...facts, route: route.id };

      const token = await this.identity.tokenFor(ctx, req, who, now);
      if (isStop(token)) return stop(token);
      facts = { ...facts, token };

      const decided = await this.decisions.decide(ctx, route, token, who, policy.acrLevels, now);
      facts = { ...facts, ...decided.facts };
      const answered = await this.answer(ctx, req, who, route, token, decided.assessment, decided.decision);
      return { answer: answered.answer, facts: { ...facts, ...answered.facts }, cookies };
    } catch (err) {
      // Failed answers carry no cookies: nothing this request decided is to be kept.
      return { ...this.failure(ctx, err, facts), cookies: [] };
    }
  }

  /** A request that could not be judged: 400 when the client sent what cannot be read, else 500 (logged). */
  failure(ctx: RequestContext, err: unknown, facts: AccessFacts): { answer: Respond; facts: AccessFacts } {
    if (err instanceof InvalidDeviceId) {
      const s = badRequest(err, {});
      return { answer: s.stop, facts: { ...facts, ...s.facts } };
    }
    this.log.error(
      `${ctx.correlationId}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    return {
      answer: respond(500, { error: 'internal_error' }),
      facts: { ...facts, reason: 'internal_error' },
    };
  }

  /** The decision's answer: forward with the identity assertion, 403, or the step-up answer. */
  private async answer(
    ctx: RequestContext,
    req: GatewayRequest,
    who: Identity,
    route: RoutePolicy,
    token: VerifiedToken,
    assessment: RiskAssessment | null,
    decision: Decision,
  ): Promise<{ answer: Answer; facts: Partial<AccessFacts> }> {
    switch (decision.outcome) {
      case 'allow': {
        let assertion: string;
        try {
          assertion = await this.assertions.assertion({
            token,
            audience: this.config.gateway.upstreams[route.upstream]?.audience ?? route.upstream,
            route: route.id,
            deviceId: who.deviceId,
            risk: assessment,
          });
        } catch (err) {
          if (!(err instanceof TokenError)) throw err;
          const s = unauthenticated('invalid_token', 'invalid_token', err.message);
          return { answer: s.stop, facts: s.facts };
        }
        const set = { [ASSERTION_HEADER]: assertion };
        return {
          answer: { kind: 'forward', forward: forwardTo(ctx, req, route.upstream, set, route.stripPrefix) },
          facts: { decision: 'allow' },
        };
      }
      case 'deny':
        return {
          answer: respond(403, {
            error: 'access_denied',
            reason: decision.reason,
            risk: riskBody(assessment),
          }),
          facts: { decision: 'deny' },
        };
      case 'step_up':
        return this.stepUps.answer(ctx, req, who, route, token, assessment, decision);
    }
  }
}
