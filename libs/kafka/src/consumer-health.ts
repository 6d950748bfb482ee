// A service's bus consumers, as its health endpoints report them. Liveness (`/healthz`) answers "should this
// process be restarted": only a consumer kafkajs gave up on, or one crashing in a loop, says yes; a broker
// that is away is waited out, never a restart. Readiness (`/readyz`) answers "can it do its work now": the
// consumer joined its group and Kafka answers, no crash loop, the compacted topics it follows are compacted;
// lag, messages being retried and recent offset resets are warnings (docs/OPERATIONS.md, Health).
import { Injectable, Logger } from '@nestjs/common';
import { Observable } from 'rxjs';
import { BusMetrics } from './bus-metrics';
import type { ConsumerMonitor } from './consumer-monitor';
import { DEFAULT_CONSUMER_SETTINGS, type ConsumerSettings } from './consumer-settings';
import { compactionReadiness, TopicCompaction } from './topic-compaction';

/**
 * The status stream of a BatchingServerKafka. It carries the consumer's monitor, so `watch(consumer.status)`
 * (the one call every bootstrap makes) follows the consumer in detail, not just its status strings.
 */
export class MonitoredStatus<S extends string = string> extends Observable<S> {
  constructor(
    source: Observable<S>,
    readonly monitor: ConsumerMonitor,
  ) {
    super((subscriber) => source.subscribe(subscriber));
  }
}

export interface Readiness {
  reasons: string[];
  warnings: string[];
}

@Injectable()
export class ConsumerHealth {
  private readonly logger = new Logger(ConsumerHealth.name);
  private settings: ConsumerSettings = DEFAULT_CONSUMER_SETTINGS;
  private readonly monitors = new Set<ConsumerMonitor>();
  /** Consumers followed by their status strings alone (the topic followers): crashed ones. */
  private readonly crashed = new Set<object>();

  constructor(
    readonly metrics: BusMetrics,
    private readonly compaction: TopicCompaction,
  ) {}

  /** The service's `kafka:` settings: redelivery for its consumer, bounds for its health. */
  configure(settings: ConsumerSettings): void {
    this.settings = settings;
    for (const monitor of this.monitors) monitor.settings = settings;
  }

  /**
   * Follows a consumer. A BatchingServerKafka's status carries its monitor; any other stream is followed by
   * its strings: `crashed` (kafkajs gave up on it) until it reports `connected` again.
   */
  watch(status: Observable<string>): void {
    if (status instanceof MonitoredStatus) {
      const monitor = status.monitor;
      monitor.settings = this.settings;
      monitor.metrics = this.metrics;
      this.monitors.add(monitor);
      return;
    }
    const consumer = {};
    status.subscribe((s) => {
      if (s === 'crashed') {
        this.crashed.add(consumer);
        this.logger.error('a bus consumer stopped for good: reporting not live until it reconnects');
      } else if (s === 'connected') {
        this.crashed.delete(consumer);
      }
    });
  }

  /** Why this process should be restarted; empty while it should not. */
  liveness(now = Date.now()): string[] {
    const reasons = [...this.monitors].flatMap((m) => m.report(now).fatal);
    if (this.crashed.size > 0)
      reasons.push('a topic follower stopped for good (kafkajs does not restart it)');
    return reasons;
  }

  get healthy(): boolean {
    return this.liveness().length === 0;
  }

  /**
   * What keeps the consumers from their work now (`reasons`), and what an operator should look at
   * (`warnings`). `compacted`: the compacted topics this service follows, checked against the cluster.
   * `brokerOutage`: whether Kafka going away after the consumer joined makes the service not ready (it cannot
   * do its work), or only warns (it serves on without Kafka, and every instance going unready at once would
   * turn a Kafka outage into an outage of the service). `joining`: whether a consumer that has not joined its
   * group since start makes the service not ready (its work needs the consumer) or only warns (what its HTTP
   * port serves does not: risk answers assessments directly from its database).
   */
  async readiness(
    options: {
      compacted?: readonly string[];
      brokerOutage?: 'not_ready' | 'warning';
      joining?: 'not_ready' | 'warning';
    } = {},
    now = Date.now(),
  ): Promise<Readiness> {
    const reasons: string[] = [];
    const warnings: string[] = [];
    for (const monitor of this.monitors) {
      const report = monitor.report(now);
      reasons.push(...report.reasons);
      (options.brokerOutage === 'warning' ? warnings : reasons).push(...report.outage);
      (options.joining === 'warning' ? warnings : reasons).push(...report.joining);
      warnings.push(...report.warnings);
    }
    if (this.crashed.size > 0)
      reasons.push('a topic follower stopped for good (kafkajs does not restart it)');
    for (const topic of options.compacted ?? []) {
      const verdict = await this.compaction.verdict(topic);
      if (verdict === null) continue;
      const { reason, warning } = compactionReadiness(topic, verdict);
      if (reason) reasons.push(reason);
      if (warning) warnings.push(warning);
    }
    return { reasons, warnings };
  }
}

export type LivenessBody = { status: 'ok' } | { status: 'unavailable'; reasons: string[] };
export type ReadinessBody = {
  status: 'ready' | 'not_ready';
  reasons?: string[];
  warnings?: string[];
};

/** What every service's liveness endpoint answers: `ok` (200), or `unavailable` with its reasons (503). */
export function livenessBody(reasons: readonly string[]): { code: 200 | 503; body: LivenessBody } {
  return reasons.length === 0
    ? { code: 200, body: { status: 'ok' } }
    : { code: 503, body: { status: 'unavailable', reasons: [...reasons] } };
}

/** What every service's readiness endpoint answers: `ready` (200) or `not_ready` (503), warnings either way. */
export function readinessBody({ reasons, warnings }: Readiness): { code: 200 | 503; body: ReadinessBody } {
  const body: ReadinessBody = { status: reasons.length === 0 ? 'ready' : 'not_ready' };
  if (reasons.length > 0) body.reasons = reasons;
  if (warnings.length > 0) body.warnings = warnings;
  return { code: reasons.length === 0 ? 200 : 503, body };
}
