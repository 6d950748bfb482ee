// Decision changes from risk (adr/0019) drop the gateway's cached decisions they name. The stream carries only
// changes, never the traffic: what an instance consumes does not grow with other instances' requests.
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { TOPICS, type DecisionChange } from '@stepgate/contracts';
import { ValidPayload } from '@stepgate/kafka';
import { GatewayMetrics } from '../health/gateway.metrics';
import { RiskClient } from './risk.client';

@Controller()
export class DecisionChangesMessageController {
  constructor(
    private readonly risk: RiskClient,
    private readonly metrics: GatewayMetrics,
  ) {}

  @EventPattern(TOPICS.decisionChange)
  onDecisionChange(@ValidPayload(TOPICS.decisionChange) change: DecisionChange): void {
    this.metrics.decisionChanges.inc({ cause: change.cause });
    const { dropped, kept } = this.risk.cache.apply(change);
    if (dropped > 0) this.metrics.riskCacheInvalidations.inc({ result: 'dropped' }, dropped);
    if (kept > 0) this.metrics.riskCacheInvalidations.inc({ result: 'kept' }, kept);
  }
}
