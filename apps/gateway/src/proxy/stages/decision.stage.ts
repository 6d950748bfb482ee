// The policy decision for a request on a route: the route's requirements, risk's level (cached or asked
// for), the route's step-up rules, and monitor mode, which forwards what enforcement would stop.
import { Injectable } from '@nestjs/common';
import type { RiskAssessment } from '@stepgate/contracts';
import type { VerifiedToken } from '@stepgate/identity';
import type { RoutePolicy } from '../../config';
import { GatewayMetrics } from '../../health/gateway.metrics';
import { decide, type Decision } from '../../policy/decide';
import { unmetRequirement } from '../../policy/requirements';
import { RiskClient, UnassessableContext } from '../../risk/risk.client';
import type { AccessFacts, RequestContext } from './judgement';
import type { Identity } from './identity.stage';

export interface RouteDecision {
  /** What to do, after monitor mode: a monitored route's would-be step-up or denial is an allow. */
  readonly decision: Decision;
  readonly assessment: RiskAssessment | null;
  readonly facts: Pick<AccessFacts, 'risk' | 'reason' | 'steppedUp' | 'monitored'>;
}

@Injectable()
export class DecisionStage {
  constructor(
    private readonly risk: RiskClient,
    private readonly metrics: GatewayMetrics,
  ) {}

  async decide(
    ctx: RequestContext,
    route: RoutePolicy,
    token: VerifiedToken,
    who: Identity,
    acrLevels: readonly string[],
    now: number,
  ): Promise<RouteDecision> {
    const unmet = unmetRequirement(route, token.claims);
    let decision: Decision;
    let assessment: RiskAssessment | null = null;
    if (unmet) decision = { outcome: 'deny', reason: unmet };
    else {
      let unassessable: string | null = null;
      try {
        assessment = await this.risk.assess({
          correlationId: ctx.correlationId,
          subject: token.subject,
          deviceId: who.deviceId,
          deviceSource: who.deviceSource,
          clientIp: ctx.clientIp,
          userAgent: String(ctx.raw.headers['user-agent'] ?? ''),
          route: route.id,
        });
      } catch (err) {
        if (!(err instanceof UnassessableContext)) throw err;
        unassessable = err.message;
      }
      decision =
        unassessable !== null
          ? { outcome: 'deny', reason: unassessable }
          : decide({ route, level: assessment?.level ?? null, token, acrLevels, nowSeconds: now });
    }
    const steppedUp = decision.outcome === 'allow' && decision.steppedUp === true;
    // Monitor mode tries out risk decisions; it never lets through someone the route's `require` refuses.
    if (decision.outcome !== 'allow' && route.mode === 'monitor' && !unmet) {
      // Computed, counted, logged and evented as what enforcement would have done; forwarded all the same.
      this.metrics.monitored.inc({ route: route.id, decision: decision.outcome });
      const reason = `monitor: would ${decision.outcome} (${decision.reason})`;
      return {
        decision: { outcome: 'allow', reason },
        assessment,
        facts: { risk: assessment, reason, steppedUp, monitored: true },
      };
    }
    return {
      decision,
      assessment,
      facts: { risk: assessment, reason: decision.reason, steppedUp, monitored: false },
    };
  }
}
