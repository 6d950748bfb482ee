// The step-up answer: RFC 9470's 401 for API clients (in the DPoP scheme for DPoP clients), a redirect to the
// challenge or enrolment page for browsers; a challenge is opened only for a request that names a device.
import { Injectable } from '@nestjs/common';
import type { ChallengeMethod, RiskAssessment } from '@stepgate/contracts';
import { sessionBindingOf, type VerifiedToken } from '@stepgate/identity';
import { Credentials } from '../../auth/credentials';
import { ChallengeClient } from '../../challenge/challenge.client';
import type { RoutePolicy } from '../../config';
import { GatewayMetrics } from '../../health/gateway.metrics';
import { respond, riskBody, type AccessFacts, type RequestContext, type Respond } from './judgement';
import type { Identity } from './identity.stage';
import { returnToOf, type GatewayRequest } from './request.stage';

export interface StepUpDemand {
  readonly acr: string;
  readonly maxAgeSeconds: number;
  readonly reason: string;
}

@Injectable()
export class StepUpStage {
  constructor(
    private readonly challenges: ChallengeClient,
    private readonly credentials: Credentials,
    private readonly metrics: GatewayMetrics,
  ) {}

  async answer(
    ctx: RequestContext,
    req: GatewayRequest,
    who: Identity,
    route: RoutePolicy,
    token: VerifiedToken,
    assessment: RiskAssessment | null,
    demand: StepUpDemand,
  ): Promise<{ answer: Respond; facts: Partial<AccessFacts> }> {
    this.metrics.stepUps.inc({ route: route.id });
    const stepUp = { decision: 'step_up' as const, reason: demand.reason };
    // A DPoP client is answered in its scheme (RFC 9449 section 7.1), with the algorithms it may prove with.
    const params = `error="insufficient_user_authentication", error_description="step-up authentication required", acr_values="${demand.acr}", max_age=${demand.maxAgeSeconds}`;
    const wwwAuthenticate =
      who.credential.scheme === 'dpop'
        ? `DPoP realm="stepgate", ${params}, algs="${this.credentials.algorithms.join(' ')}"`
        : `Bearer realm="stepgate", ${params}`;
    const challenged = { 'www-authenticate': wwwAuthenticate };
    const body = {
      error: 'insufficient_user_authentication',
      error_description: 'step-up authentication required',
      acr_values: demand.acr,
      max_age: demand.maxAgeSeconds,
      risk: riskBody(assessment),
    };
    const deviceId = who.deviceId;
    if (deviceId === null) {
      // A challenge's token is bound to a device, and this client sends none: it can still step up at its
      // issuer (RFC 9470: a token with this acr and a fresh auth_time), or bind its tokens with DPoP.
      const message =
        'StepGate offers challenges to clients with a device (a DPoP key or X-Device-Id); ' +
        'or present a token from your issuer with this acr and a fresh authentication';
      return { answer: respond(401, { ...body, message }, challenged), facts: stepUp };
    }
    const snapshot = assessment ?? {
      score: 100,
      level: 'critical' as const,
      signals: [{ name: 'risk_unavailable', weight: 0, detail: 'risk did not answer in time' }],
    };
    const opened = await this.challenges.open({
      correlationId: ctx.correlationId,
      subject: token.subject,
      // What binds the challenge to this sign-in: the token's sid, else its jti, else a hash of its claims.
      sessionId: sessionBindingOf(token),
      deviceId,
      route: route.id,
      requiredAcr: demand.acr,
      maxAgeSeconds: demand.maxAgeSeconds,
      risk: { score: snapshot.score, level: snapshot.level, signals: snapshot.signals },
    });
    if (!opened) {
      return {
        answer: respond(503, {
          error: 'challenge_unavailable',
          message: 'step-up is required but cannot be offered now',
        }),
        facts: { ...stepUp, reason: `${demand.reason}; challenge service unavailable` },
      };
    }
    if (opened.status === 'denied') {
      return {
        answer: respond(403, { error: 'access_denied', reason: opened.reason, risk: riskBody(assessment) }),
        facts: { decision: 'deny', reason: `${demand.reason}; ${opened.reason}` },
      };
    }
    // Checked again on the way out: only ever a path on this origin.
    const returnTo = encodeURIComponent(returnToOf(req));
    if (opened.status === 'enrolment_required') {
      // A browser is sent to enrol on the factors page, and comes back here afterwards.
      if (req.html)
        return {
          answer: respond(303, undefined, { location: `/.stepgate/factors?return_to=${returnTo}` }),
          facts: stepUp,
        };
      const enrolment = { reason: opened.reason, href: enrolmentHref(opened.methods[0]) };
      return { answer: respond(401, { ...body, enrolment }, challenged), facts: stepUp };
    }
    const href = `/.stepgate/challenges/${opened.challengeId}`;
    if (req.html)
      return {
        answer: respond(303, undefined, { location: `${href}?return_to=${returnTo}` }),
        facts: stepUp,
      };
    const challenge = {
      id: opened.challengeId,
      methods: opened.methods,
      href: `${href}/verify`,
      expires_at: opened.expiresAt,
    };
    return { answer: respond(401, { ...body, challenge }, challenged), facts: stepUp };
  }
}

/** Where an API client enrols the method a step-up asked for (a passkey leads to the passkey ceremony). */
function enrolmentHref(method: ChallengeMethod | undefined): string {
  return method === 'webauthn'
    ? '/.stepgate/factors/webauthn/registration/options'
    : '/.stepgate/factors/totp';
}
