import { Injectable } from '@nestjs/common';
import { createMetricsRegistry } from '@stepgate/observability';
import { Counter, type Registry } from 'prom-client';

/** The service's own registry (not prom-client's global one), so embedded services do not collide. */
@Injectable()
export class ChallengeMetrics {
  readonly registry: Registry = createMetricsRegistry('challenge');

  readonly challengesCreated = new Counter({
    name: 'stepgate_challenges_created_total',
    help: 'Challenge requests from the gateway, by reply status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly verifications = new Counter({
    name: 'stepgate_challenge_verifications_total',
    help: 'Verification attempts, by method and result',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });

  /** Events an operator should look at: critical risk denied, recovery codes spent. */
  readonly alerts = new Counter({
    name: 'stepgate_challenge_alerts_total',
    help: 'Security alerts raised by the challenge service, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly factorChanges = new Counter({
    name: 'stepgate_factor_changes_total',
    help: 'Factor enrolments, activations and removals',
    labelNames: ['method', 'change'] as const,
    registers: [this.registry],
  });
}
