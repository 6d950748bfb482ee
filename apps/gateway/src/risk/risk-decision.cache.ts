// Recent assessments by context, so most requests need no round trip to risk. An entry lives for the
// configured TTL or until risk publishes a newer assessment for the same subject and device. The key is the
// subject, the device, the client network (/24, /48) and the route class (the route id): risk may judge the
// same context differently for different routes.
import type { RiskAssessment } from '@stepgate/contracts';

export function networkOf(ip: string): string {
  if (ip.includes(':')) return ip.split(':').slice(0, 3).join(':') + '::/48';
  return ip.split('.').slice(0, 3).join('.') + '.0/24';
}

export class RiskDecisionCache {
  private readonly entries = new Map<string, { assessment: RiskAssessment; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
  ) {}

  static key(subject: string, deviceId: string | null, ip: string, routeClass: string): string {
    return `${subject}\u0000${deviceId ?? ''}\u0000${networkOf(ip)}\u0000${routeClass}`;
  }

  get(key: string, now = Date.now()): RiskAssessment | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.assessment;
  }

  set(key: string, assessment: RiskAssessment, now = Date.now()): void {
    if (this.ttlMs === 0) return;
    if (this.entries.size >= this.maxEntries) {
      // Map iteration order is insertion order: drop the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { assessment, expires: now + this.ttlMs });
  }

  /**
   * A newer assessment for this subject and device arrived: forget every cached context of theirs whose
   * level differs from it (something risk knows has changed the decision). Entries at the same level stay:
   * decisions depend on the level alone, and under steady traffic risk publishes an assessment for every
   * allowed request whose score moves a little each time (velocity), which would otherwise empty the cache
   * as fast as it fills.
   */
  invalidate(
    subject: string,
    deviceId: string | null,
    newer?: Pick<RiskAssessment, 'level'>,
  ): {
    dropped: number;
    kept: number;
  } {
    const prefix = `${subject}\u0000${deviceId ?? ''}\u0000`;
    let dropped = 0;
    let kept = 0;
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix)) continue;
      if (newer && entry.assessment.level === newer.level) {
        kept++;
        continue;
      }
      this.entries.delete(key);
      dropped++;
    }
    return { dropped, kept };
  }

  get size(): number {
    return this.entries.size;
  }
}
