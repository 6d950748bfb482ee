// The risk service's Prometheus registry (one per app, so the embedded mode's services do not collide).
import { Injectable } from '@nestjs/common';
import { createMetricsRegistry } from '@stepgate/observability';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MonitoredEffect } from '@stepgate/risk-scoring';

export type MessageOutcome = 'applied' | 'duplicate' | 'ignored';

@Injectable()
export class RiskMetrics {
  readonly registry: Registry = createMetricsRegistry('risk');

  readonly assessments = new Counter({
    name: 'stepgate_risk_assessments_total',
    help: 'Assessments made, by what asked for them and the level given',
    labelNames: ['source', 'level'] as const,
    registers: [this.registry],
  });
  readonly decisionChanges = new Counter({
    name: 'stepgate_risk_decision_changes_total',
    help: 'Decision changes published for gateways to drop cached decisions, by cause (access, challenge_outcome)',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });

  readonly messages = new Counter({
    name: 'stepgate_risk_messages_total',
    help: 'Consumed events, by topic and what became of them',
    labelNames: ['topic', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly monitoredSignals = new Counter({
    name: 'stepgate_risk_monitored_signals_total',
    help: 'Signals in monitor mode that would have added points to a recorded assessment, by whether they would have raised its level',
    labelNames: ['signal', 'effect'] as const,
    registers: [this.registry],
  });

  readonly policy = new Gauge({
    name: 'stepgate_risk_policy_info',
    help: 'The policy in force (1): its published version ("file" before the first) and the model version it scores with',
    labelNames: ['version', 'model'] as const,
    registers: [this.registry],
  });

  showPolicy(active: { policyVersion: number | null; version: string }): void {
    this.policy.reset();
    this.policy.set({ version: String(active.policyVersion ?? 'file'), model: active.version }, 1);
  }

  countMonitored(effects: readonly MonitoredEffect[] | undefined): void {
    for (const e of effects ?? []) {
      this.monitoredSignals.inc({
        signal: e.name,
        effect: e.raisesLevel ? 'would_raise_level' : 'no_level_change',
      });
    }
  }
}
