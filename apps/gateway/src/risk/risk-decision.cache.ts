// Recent assessments by context, so most requests need no round trip to risk. A cached decision is only
// ever reused for exactly the inputs risk scored: the subject, the device and where its id came from, the
// client address (risk's lists name single addresses and geo reads the whole address, so a neighbour in the
// victim's /24 is another context), the whole User-Agent (risk reads the browser,
// OS and device type from it; an empty one is a value of its own) and the route (risk may judge the same
// context differently per route). Any changed input is a miss, so a copied token and device id from
// another browser is scored, never served a verdict made for the victim's (issue #7, finding 1).
// An entry lives for the configured TTL, or until risk publishes a decision change for its subject (and
// device) at another level; that invalidation goes through an index, not a scan of the cache.
import type { DecisionChange, DeviceSource, RiskAssessment } from '@stepgate/contracts';
import { formatIp, parseIp } from '@stepgate/net';
import { LRUCache } from 'lru-cache';

/**
 * The client address a cached decision is keyed by, in canonical text (libs/net), so one address has one key
 * however it is written (an IPv4-mapped address is its IPv4). Not its /24 (/48): risk's bad-IP and
 * trusted-network lists may name single addresses and geo places the whole address, so a neighbour in the
 * same network can be scored otherwise. An address that does not parse (the gateway only passes ones that
 * do) is keyed as it is.
 */
function addressKey(ip: string): string {
  const parsed = parseIp(ip);
  return parsed ? formatIp(parsed) : `raw:${ip}`;
}

/** Everything risk scores a request on: what a cached decision must match exactly. */
export interface ScoredInputs {
  subject: string;
  deviceId: string | null;
  deviceSource: DeviceSource | null;
  clientIp: string;
  userAgent: string;
  route: string;
}

interface Entry {
  assessment: RiskAssessment;
  /** The index buckets (subject, and subject and device) this entry is filed under. */
  subject: string;
  owner: string;
}

const SEP = '\u0000';

export class RiskDecisionCache {
  private readonly entries: LRUCache<string, Entry> | null;
  /** subject + device -> the keys of their cached contexts. */
  private readonly byOwner = new Map<string, Set<string>>();
  /** subject -> its owners (subject + device) in byOwner. */
  private readonly bySubject = new Map<string, Set<string>>();
  /**
   * Decision changes applied so far: an answer asked for before a change arrived may predate it, so it is not
   * cached (RiskClient compares this before and after its request). Changes are rare; the odd uncached answer
   * costs one more request.
   */
  changesApplied = 0;

  constructor(ttlMs: number, maxEntries = 100_000, clock: { now(): number } = performance) {
    this.entries =
      ttlMs === 0
        ? null
        : new LRUCache<string, Entry>({
            max: maxEntries,
            ttl: ttlMs,
            perf: clock,
            // Read the clock on every check instead of a cached reading: an entry never outlives its TTL.
            ttlResolution: 0,
            // Keeps the index exact whatever removes an entry: eviction, expiry, delete or replacement.
            dispose: (entry, key) => this.unindex(entry.subject, entry.owner, key),
          });
  }

  static key(inputs: ScoredInputs): string {
    return [
      inputs.subject,
      inputs.deviceSource ?? '',
      inputs.deviceId ?? '',
      addressKey(inputs.clientIp),
      inputs.route,
      inputs.userAgent,
    ].join(SEP);
  }

  private static owner(subject: string, deviceId: string | null): string {
    return `${subject}${SEP}${deviceId ?? ''}`;
  }

  get(inputs: ScoredInputs): RiskAssessment | undefined {
    return this.entries?.get(RiskDecisionCache.key(inputs))?.assessment;
  }

  set(inputs: ScoredInputs, assessment: RiskAssessment): void {
    if (!this.entries) return;
    const key = RiskDecisionCache.key(inputs);
    const owner = RiskDecisionCache.owner(inputs.subject, inputs.deviceId);
    this.entries.set(key, { assessment, subject: inputs.subject, owner });
    let keys = this.byOwner.get(owner);
    if (!keys) this.byOwner.set(owner, (keys = new Set()));
    keys.add(key);
    let owners = this.bySubject.get(inputs.subject);
    if (!owners) this.bySubject.set(inputs.subject, (owners = new Set()));
    owners.add(owner);
  }

  /**
   * Risk says cached decisions of a subject (and device) may be stale (adr/0019): forget those in the change's
   * scope whose level differs from its level (all of them when it has none). Entries at the same level stay:
   * another gateway instance may have cached the context anew already, and decisions depend on the level alone.
   */
  apply(change: DecisionChange): { dropped: number; kept: number } {
    this.changesApplied++;
    if (change.scope === 'device') return this.invalidate(change.subject, change.deviceId, change);
    const total = { dropped: 0, kept: 0 };
    // A copy: invalidating may empty and remove the subject's set.
    for (const owner of [...(this.bySubject.get(change.subject) ?? [])]) {
      const { dropped, kept } = this.invalidateOwner(owner, change.level);
      total.dropped += dropped;
      total.kept += kept;
    }
    return total;
  }

  /**
   * Forget the cached contexts of this subject and device whose level differs from `newer` (every one without
   * it). Same-level entries stay: decisions depend on the level alone.
   */
  invalidate(
    subject: string,
    deviceId: string | null,
    newer?: { level: RiskAssessment['level'] | null },
  ): { dropped: number; kept: number } {
    return this.invalidateOwner(RiskDecisionCache.owner(subject, deviceId), newer?.level ?? null);
  }

  private invalidateOwner(
    owner: string,
    level: RiskAssessment['level'] | null,
  ): { dropped: number; kept: number } {
    const keys = this.byOwner.get(owner);
    if (!keys || !this.entries) return { dropped: 0, kept: 0 };
    let dropped = 0;
    let kept = 0;
    // A copy: deleting disposes, which edits the set.
    for (const key of [...keys]) {
      const entry = this.entries.get(key, { updateAgeOnGet: false });
      if (entry && level !== null && entry.assessment.level === level) {
        kept++;
        continue;
      }
      if (this.entries.delete(key)) dropped++;
    }
    return { dropped, kept };
  }

  /** Every cached decision goes (a new policy version: thresholds or routes may have changed). */
  clear(): void {
    this.entries?.clear();
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  private unindex(subject: string, owner: string, key: string): void {
    const keys = this.byOwner.get(owner);
    if (!keys) return;
    keys.delete(key);
    if (keys.size > 0) return;
    this.byOwner.delete(owner);
    const owners = this.bySubject.get(subject);
    owners?.delete(owner);
    if (owners?.size === 0) this.bySubject.delete(subject);
  }
}
