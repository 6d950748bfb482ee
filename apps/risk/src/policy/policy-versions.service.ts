// Makes policy versions and publishes them. A version comes from an admin change (PUT), a rollback (an old
// document as a new version), or the config file: at start and on each edit, the file's document becomes a
// version when it differs from the last one recorded from the file, so restarting with an unchanged file
// never undoes an admin change. The head is published on the compacted topic after every write and at
// start; every gateway and risk instance (this one included, through RiskPolicyService) follows that topic.
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigError, watchConfigFile, type ConfigWatch, type RuntimeEnv } from '@stepgate/config';
import { TOPICS } from '@stepgate/contracts';
import { MessageBus } from '@stepgate/kafka';
import {
  checkDocument,
  documentHash,
  loadFileDocument,
  tunablesOf,
  type DocumentCheck,
} from '@stepgate/policy';
import { basename } from 'node:path';
import { RISK_CONFIG, riskSectionSchema, type RiskConfig } from '../config';
import { RiskMetrics } from '../health/risk.metrics';
import { PolicyStoreService, VersionConflict, type StoredVersion } from './policy-store.service';
import { RiskPolicyService } from './risk-policy.service';

export const RISK_RUNTIME = Symbol('RISK_RUNTIME');

const REPUBLISH_MS = 5_000;

export interface PolicyChangeRequest {
  document: unknown;
  /** The head version the change was made against (If-Match). */
  expected: number;
  author: string;
  comment: string | null;
}

export interface RecordedChange extends StoredVersion {
  /** False when the document was the head's already: nothing new was recorded. */
  recorded: boolean;
  /**
   * Whether the version reached the policy topic. False: it is stored (the answer's version stands) but no
   * instance runs it yet; risk retries every few seconds until Kafka takes it.
   */
  published: boolean;
}

/** A candidate that does not validate: every problem, with its path. */
export class InvalidPolicyCandidate extends Error {
  constructor(readonly problems: string[]) {
    super(`the policy does not validate: ${problems.join('; ')}`);
  }
}

@Injectable()
export class PolicyVersionsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(PolicyVersionsService.name);
  private upstreams: readonly string[] | null = null;
  private watch: ConfigWatch | null = null;
  private retry: NodeJS.Timeout | null = null;
  private fileRetry: NodeJS.Timeout | null = null;
  private closed = false;
  /** File edits are recorded one at a time, in order. */
  private fileTail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: PolicyStoreService,
    private readonly bus: MessageBus,
    private readonly policy: RiskPolicyService,
    private readonly metrics: RiskMetrics,
    @Inject(RISK_RUNTIME) private readonly runtime: Pick<RuntimeEnv, 'configFile' | 'env'>,
    @Inject(RISK_CONFIG) private readonly started: RiskConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.metrics.showPolicy(this.policy.current);
    this.policy.onChange((p) => this.metrics.showPolicy(p));
    await this.syncFile(this.started);
    const { watch, debounceMs } = this.policy.current.config.reload;
    if (watch)
      this.watch = watchConfigFile(
        this.runtime.configFile,
        debounceMs,
        () => void this.syncFile(),
        this.logger,
      );
  }

  /**
   * Records the file (if it changed) and publishes the head. Never throws: a database that fails now is
   * logged and the file is read again a few seconds later (a watcher's callback has no one to throw to).
   */
  private async syncFile(started?: RiskConfig): Promise<void> {
    if (this.fileRetry) clearTimeout(this.fileRetry);
    this.fileRetry = null;
    try {
      await this.recordFile(started);
    } catch (err) {
      this.logger.error(`recording the config file failed, retrying in ${REPUBLISH_MS} ms: ${String(err)}`);
      if (!this.closed) this.fileRetry = setTimeout(() => void this.syncFile(started), REPUBLISH_MS);
    }
    await this.publishHead();
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.watch?.close();
    if (this.retry) clearTimeout(this.retry);
    if (this.fileRetry) clearTimeout(this.fileRetry);
  }

  /**
   * Validates a candidate against the rules in force, without recording it. `api`: held to the admin route
   * guard too (a change through the API cannot open the API).
   */
  check(document: unknown, source: 'file' | 'api' = 'api'): DocumentCheck {
    const { changeAcr, upstream } = this.started.admin;
    return checkDocument(document, {
      upstreams: this.upstreams,
      changeAcr,
      adminUpstream: source === 'api' ? upstream : undefined,
    });
  }

  /** Records an admin's whole new document as the next version; InvalidPolicyCandidate or VersionConflict otherwise. */
  change(request: PolicyChangeRequest): Promise<RecordedChange> {
    return this.record(request.document, request, null);
  }

  /**
   * Restores an earlier version's document as the next version (history is never rewritten). It is checked
   * like any change: an old version naming an upstream the gateways no longer have is refused.
   */
  async rollback(to: number, request: Omit<PolicyChangeRequest, 'document'>): Promise<RecordedChange | null> {
    const old = await this.store.get(to);
    return old ? this.record(old.document, request, to) : null;
  }

  private async record(
    document: unknown,
    request: Omit<PolicyChangeRequest, 'document'>,
    restores: number | null,
  ): Promise<RecordedChange> {
    const checked = this.check(document);
    if (!checked.ok) throw new InvalidPolicyCandidate(checked.problems);
    const stored = await this.store.append({
      document: checked.document,
      author: request.author,
      source: restores === null ? 'api' : 'rollback',
      restores,
      comment: request.comment,
      expected: request.expected,
      // The same document again is no change: nothing recorded, the head answers (still against If-Match).
      unlessUnchanged: true,
    });
    if (stored.version === request.expected) return { ...stored, recorded: false, published: true };
    const what = restores === null ? 'recorded' : `restores version ${restores}`;
    this.logger.log(`policy version ${stored.version} ${what}, by ${stored.author}`);
    return { ...stored, recorded: true, published: await this.publishHead() };
  }

  /**
   * Records the config file's document when it differs from the last one recorded from the file. At start
   * the risk tunables are the ones this instance was started with (the file's, unless the embedding code
   * passed others); on each edit, the file's.
   */
  recordFile(started?: RiskConfig): Promise<StoredVersion | null> {
    const run = this.fileTail.then(() => this.recordFileNow(started));
    this.fileTail = run.catch(() => undefined);
    return run;
  }

  private async recordFileNow(started?: RiskConfig): Promise<StoredVersion | null> {
    let file;
    try {
      file = loadFileDocument(this.runtime, riskSectionSchema);
      if (started) file.document.risk = tunablesOf(started);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      this.logger.error(`config file change rejected, no new policy version: ${problems}`);
      return null;
    }
    this.upstreams = file.upstreams;
    const checked = this.check(file.document, 'file');
    if (!checked.ok) {
      this.logger.error(`config file change rejected, no new policy version: ${checked.problems.join('; ')}`);
      return null;
    }
    // Several risk instances read the same file: one records it, the others find it recorded.
    for (let attempt = 0; attempt < 5; attempt++) {
      const [head, fromFile] = await Promise.all([this.store.head(), this.store.latestFrom('file')]);
      if (fromFile && fromFile.hash === documentHash(checked.document)) return null;
      // The file is a whole document: changes made through the API since the file was last recorded are
      // replaced by it. Say so, on the version and in the log.
      const since = fromFile && head && head.version > fromFile.version ? fromFile.version + 1 : null;
      const comment =
        since === null
          ? null
          : `replaces versions ${since}-${head!.version} (made since the file's last edit)`;
      if (comment) this.logger.warn(`the config file changed: its policy ${comment}`);
      try {
        const stored = await this.store.append({
          document: checked.document,
          author: `file:${basename(this.runtime.configFile)}`,
          source: 'file',
          restores: null,
          comment,
          expected: head?.version ?? 0,
        });
        this.logger.log(`policy version ${stored.version} recorded from the config file`);
        return stored;
      } catch (err) {
        if (!(err instanceof VersionConflict)) throw err;
      }
    }
    this.logger.error('could not record the config file as a policy version: the head kept moving');
    return null;
  }

  /**
   * Publishes the head. Read again afterwards: a writer that committed while an older head was on its way
   * published its own, and one of ours may have landed after it; the last record on the topic must be the
   * newest. On failure it tries again every few seconds (followers ignore versions they already have).
   */
  async publishHead(): Promise<boolean> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    try {
      let published = 0;
      for (let attempt = 0; attempt < 5; attempt++) {
        const head = await this.store.head();
        if (!head || head.version === published) return true;
        const { changes: _changes, ...event } = head;
        const lineage = (await this.store.lineage())!;
        // In force here at once, from the database: this instance scores on the newest version before its
        // follower (a group of its own, seconds to form) brings it back, and even with Kafka away.
        this.policy.apply({ ...event, lineage });
        await this.bus.publish(TOPICS.policyVersion, { ...event, lineage });
        published = head.version;
      }
      return true;
    } catch (err) {
      this.logger.error(`publishing the policy head failed, retrying in ${REPUBLISH_MS} ms: ${String(err)}`);
      if (!this.closed) this.retry = setTimeout(() => void this.publishHead(), REPUBLISH_MS);
      return false;
    }
  }
}
