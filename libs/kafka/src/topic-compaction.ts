// Compacted topics are checked, not assumed: a service that follows one (the policy topic, adr/0013) asks the
// cluster for the topic's cleanup.policy and refuses readiness when it is not `compact`, since an instance
// started after retention removed the last record would never learn the state in force. A cluster that does
// not answer (librdkafka's mock has no DescribeConfigs) leaves the question open: logged, never fatal.
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigResourceTypes, Kafka, type Admin, type DescribeConfigResponse } from 'kafkajs';
import { describeError } from './handler-faults';
import { kafkaClientConfig } from './kafka.options';
import { MESSAGING_OPTIONS, type MessagingOptions } from './message-bus';

export type CompactionVerdict =
  | { state: 'compacted' }
  | { state: 'not_compacted'; cleanupPolicy: string }
  | { state: 'missing' }
  | { state: 'unknown'; why: string };

/** What the cluster's answer (or failure to answer) says about a topic's cleanup.policy. */
export function compactionVerdict(
  outcome: { response: DescribeConfigResponse } | { error: unknown },
  topic: string,
): CompactionVerdict {
  if ('error' in outcome) {
    const type = (outcome.error as { type?: unknown } | null)?.type;
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return { state: 'missing' };
    return { state: 'unknown', why: `DescribeConfigs failed: ${describeError(outcome.error)}` };
  }
  const resource = outcome.response.resources.find((r) => r.resourceName === topic);
  if (!resource) return { state: 'unknown', why: `DescribeConfigs did not describe ${topic}` };
  if (resource.errorCode === 3) return { state: 'missing' };
  if (resource.errorCode !== 0)
    return { state: 'unknown', why: `DescribeConfigs error ${resource.errorCode}: ${resource.errorMessage}` };
  const entry = resource.configEntries.find((e) => e.configName === 'cleanup.policy');
  if (!entry) return { state: 'unknown', why: 'the cluster did not say its cleanup.policy' };
  const policies = entry.configValue.split(',').map((p) => p.trim());
  // compact,delete also deletes by retention: the one record of an unchanged policy would go with it.
  return policies.includes('compact') && !policies.includes('delete')
    ? { state: 'compacted' }
    : { state: 'not_compacted', cleanupPolicy: entry.configValue };
}

/** What readiness makes of a verdict: a reason not to be ready, a warning, or nothing. */
export function compactionReadiness(
  topic: string,
  verdict: CompactionVerdict | 'pending',
): { reason?: string; warning?: string } {
  if (verdict === 'pending') return { warning: `checking whether ${topic} is compacted` };
  switch (verdict.state) {
    case 'compacted':
      return {};
    case 'not_compacted':
      return {
        reason:
          `${topic} has cleanup.policy=${verdict.cleanupPolicy}; it must be compact, or an instance that ` +
          'starts after retention removed the newest record misses the state in force (docs/OPERATIONS.md, The policy topic)',
      };
    case 'missing':
      return {
        warning: `${topic} does not exist yet: create it compacted (docs/OPERATIONS.md, The policy topic)`,
      };
    case 'unknown':
      return { warning: `cannot tell whether ${topic} is compacted (${verdict.why}); not checked` };
  }
}

/** A verdict is asked for again after this long; readiness waits this long for a first one. */
const RECHECK_MS = 60_000;
const FIRST_WAIT_MS = 2_000;

interface Check {
  at: number;
  done: Promise<void>;
  verdict?: CompactionVerdict;
}

@Injectable()
export class TopicCompaction implements OnApplicationShutdown {
  private readonly logger = new Logger(TopicCompaction.name);
  private readonly checks = new Map<string, Check>();
  private readonly logged = new Map<string, string>();
  private admin: Admin | null = null;
  private connected: Promise<void> | null = null;

  constructor(@Inject(MESSAGING_OPTIONS) private readonly options: MessagingOptions) {}

  /**
   * The newest verdict on `topic`, asked again once a minute; `pending` while the first is out; null on the
   * in-process bus, where there is no topic to check.
   */
  async verdict(topic: string, waitMs = FIRST_WAIT_MS): Promise<CompactionVerdict | 'pending' | null> {
    if (this.options.brokers.length === 0) return null;
    const previous = this.checks.get(topic);
    let check = previous;
    if (!check || (check.verdict && Date.now() - check.at > RECHECK_MS)) {
      const next: Check = { at: Date.now(), done: Promise.resolve() };
      next.done = this.describe(topic).then((v) => {
        next.verdict = v;
        this.log(topic, v);
      });
      if (previous?.verdict) next.verdict = previous.verdict;
      this.checks.set(topic, next);
      check = next;
    }
    if (!check.verdict) await Promise.race([check.done, new Promise((r) => setTimeout(r, waitMs).unref())]);
    return check.verdict ?? 'pending';
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.admin && this.connected) await this.admin.disconnect().catch(() => undefined);
  }

  private async describe(topic: string): Promise<CompactionVerdict> {
    try {
      if (!this.admin) {
        // One retry: a cluster that cannot answer says so at once, and the check runs again in a minute.
        const config = kafkaClientConfig(this.options, `${this.options.clientId}-topic-check`);
        this.admin = new Kafka({
          ...config,
          retry: { retries: 1, initialRetryTime: 100 },
          logLevel: 0,
        }).admin();
      }
      this.connected ??= this.admin.connect();
      await this.connected;
      const response = await this.admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
        includeSynonyms: false,
      });
      return compactionVerdict({ response }, topic);
    } catch (error) {
      this.connected = null;
      return compactionVerdict({ error }, topic);
    }
  }

  /** Once per change of verdict: a readiness probe asks every few seconds. */
  private log(topic: string, verdict: CompactionVerdict): void {
    const text = JSON.stringify(verdict);
    if (this.logged.get(topic) === text) return;
    this.logged.set(topic, text);
    switch (verdict.state) {
      case 'compacted':
        this.logger.log(`${topic} is compacted`);
        return;
      case 'not_compacted':
        this.logger.error(`${topic} has cleanup.policy=${verdict.cleanupPolicy}, not compact: not ready`);
        return;
      case 'missing':
        this.logger.warn(`${topic} does not exist yet; it must be created compacted`);
        return;
      case 'unknown':
        this.logger.warn(
          `cannot tell whether ${topic} is compacted (${verdict.why}); readiness does not depend on it`,
        );
        return;
    }
  }
}
