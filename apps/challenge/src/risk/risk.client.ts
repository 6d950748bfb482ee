// Asks risk about the caller's current context (request/reply). Used where this service itself needs a risk
// view: first-factor enrolment from a seen device, and the step-up it opens before a factor change.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { REQUESTS, type RiskAssessment } from '@stepgate/contracts';
import { MessageBus, RequestTimeoutError } from '@stepgate/kafka';
import { CHALLENGE_CONFIG, type ChallengeConfig } from '../config';
import { RiskUnavailable } from '../factors/factor.errors';
import type { Caller } from '../http/caller';

@Injectable()
export class RiskClient {
  private readonly logger = new Logger(RiskClient.name);

  constructor(
    private readonly bus: MessageBus,
    @Inject(CHALLENGE_CONFIG) private readonly config: ChallengeConfig,
  ) {}

  /** The assessment, or RiskUnavailable: callers fail closed. */
  async assess(caller: Caller, purpose: string): Promise<RiskAssessment> {
    try {
      return await this.bus.request(
        REQUESTS.assessRisk,
        {
          correlationId: caller.correlationId,
          subject: caller.token.subject,
          deviceId: caller.deviceId,
          deviceSource: caller.deviceSource,
          clientIp: caller.clientIp,
          userAgent: caller.userAgent,
          route: null,
        },
        this.config.challenge.enrolment.riskTimeoutMs,
      );
    } catch (err) {
      const reason =
        err instanceof RequestTimeoutError
          ? 'the risk service did not answer in time'
          : 'the risk service failed';
      this.logger.warn(`${purpose} refused for ${caller.token.subject}: ${reason} (${String(err)})`);
      throw new RiskUnavailable(reason);
    }
  }
}
