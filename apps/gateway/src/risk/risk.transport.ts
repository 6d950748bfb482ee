// How the gateway's synchronous question reaches risk: directly over HTTP (risk.direct-client.ts, when
// gateway.risk.url is set), over Kafka request/reply, or in process (the embedded mode's bus). All three
// carry the same contract (stepgate.risk.assess.v2) to the same scoring method (adr/0016-direct-risk-path).
import type { AssessRiskRequest, RiskAssessment } from '@stepgate/contracts';
import { REQUESTS } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';

export type RiskPath = 'direct' | 'kafka' | 'in_process';

/** Why a request got no assessment: the label of stepgate_gateway_risk_requests_total. */
export type RiskFailure = 'timeout' | 'unreachable' | 'refused' | 'invalid' | 'failed';

/** A request risk did not answer with an assessment. */
export class RiskRequestError extends Error {
  constructor(
    readonly failure: RiskFailure,
    message: string,
  ) {
    super(message);
  }
}

/** An answer about another subject or device is no answer: never cached or decided on for this context. */
export function checkedAnswer(request: AssessRiskRequest, assessment: RiskAssessment): RiskAssessment {
  if (assessment.subject !== request.subject || assessment.deviceId !== request.deviceId)
    throw new RiskRequestError('invalid', "risk's answer is about another subject or device");
  return assessment;
}

export interface RiskTransport {
  readonly path: RiskPath;
  /** The assessment, or a RiskRequestError once `timeoutMs` has passed or risk refused. */
  assess(request: AssessRiskRequest, timeoutMs: number): Promise<RiskAssessment>;
}

export const RISK_TRANSPORT = Symbol('RISK_TRANSPORT');

/** The bus: Kafka's request/reply through risk's consumer group, or the in-process broker. */
export class BusRiskTransport implements RiskTransport {
  constructor(
    private readonly bus: MessageBus,
    readonly path: 'kafka' | 'in_process',
  ) {}

  async assess(request: AssessRiskRequest, timeoutMs: number): Promise<RiskAssessment> {
    try {
      return await this.bus.request(REQUESTS.assessRisk, request, timeoutMs);
    } catch (err) {
      throw new RiskRequestError(busFailure(err), String(err));
    }
  }
}

/** The bus's errors by their stable codes (libs/kafka message-bus.ts). */
function busFailure(err: unknown): RiskFailure {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'request_timeout') return 'timeout';
  if (code === 'broker_unavailable') return 'unreachable';
  if (code === 'invalid_reply') return 'invalid';
  return 'failed';
}
