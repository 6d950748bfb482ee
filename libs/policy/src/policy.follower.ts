// Following the policy versions risk publishes on the compacted stepgate.policy.v1 topic: the one loop the
// gateway and risk both run. Each newer version (isNewer: a late or repeated one never goes back) that the
// owner can adopt is swapped in atomically and the listeners are told; one it cannot is logged and ignored,
// and the version in force stays. What a version becomes (the gateway's routes, risk's scoring) is the
// owner's. No Nest: the owner passes its logger and its bus.
import { isNewer, TOPICS, type PolicyVersion } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';

/** What a published version becomes for its follower, or every reason it cannot be adopted there. */
export type Adoption<T> = { ok: true; active: T } | { ok: false; problems: string };

export interface PolicyFollowerOptions<T> {
  /** In force until a published version takes over: the config file's. */
  initial: T;
  /** Validates a published version for this follower and builds what it puts in force. */
  adopt: (published: PolicyVersion) => Adoption<T>;
  /** How a log line names an active policy (the gateway: its hash; risk: its model and config version). */
  describe: (active: T) => string;
  /** The owner's logger, so the lines carry the owner's name. */
  logger: { log(message: string): void; error(message: string): void };
  /** Told of each version refused, after the refusal (the gateway counts them). */
  onRejected?: (published: PolicyVersion, problems: string) => void;
}

export class PolicyFollower<T> {
  private active: T;
  /** The published version in force (null: the config file's). */
  private inForce: PolicyVersion | null = null;
  private readonly listeners = new Set<(active: T) => void>();
  private unfollow: (() => Promise<void>) | null = null;

  constructor(private readonly options: PolicyFollowerOptions<T>) {
    this.active = options.initial;
  }

  /** The policy to use now. Read it once per unit of work, so one never mixes two policies. */
  get current(): T {
    return this.active;
  }

  /** The number of the published version in force; null while the config file's is. */
  get version(): number | null {
    return this.inForce?.version ?? null;
  }

  /** Called after each newer version takes effect, in the order they were added. */
  onChange(listener: (active: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts following the topic; resolves once subscribed. */
  async follow(bus: Pick<MessageBus, 'follow'>): Promise<void> {
    this.options.logger.log(`policy from the config file (${this.options.describe(this.active)}) in force`);
    this.unfollow = await bus.follow(TOPICS.policyVersion, (published) => {
      this.apply(published);
    });
  }

  async stop(): Promise<void> {
    await this.unfollow?.();
    this.unfollow = null;
  }

  /** Applies a published version if it is newer than the one in force and adopted; true when it took effect. */
  apply(published: PolicyVersion): boolean {
    if (!isNewer(published, this.inForce)) return false;
    const adoption = this.options.adopt(published);
    if (!adoption.ok) {
      this.options.onRejected?.(published, adoption.problems);
      this.options.logger.error(
        `policy version ${published.version} rejected, keeping ${this.version ?? 'the file'}: ${adoption.problems}`,
      );
      return false;
    }
    const previous = { version: this.version, active: this.active };
    this.inForce = published;
    this.active = adoption.active;
    const { describe } = this.options;
    this.options.logger.log(
      `policy version ${previous.version ?? 'file'} -> ${published.version} in force ` +
        `(${describe(previous.active)} -> ${describe(this.active)}), by ${published.author}`,
    );
    for (const listener of this.listeners) listener(this.active);
    return true;
  }
}
