// Recent assessments by context, so most requests need no round trip to risk. An entry lives for the
// configured TTL or until risk publishes a newer assessment for the same subject and device.
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

  static key(subject: string, deviceId: string | null, ip: string): string {
    return `${subject}\u0000${deviceId ?? ''}\u0000${networkOf(ip)}`;
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

  /** Forget every cached context of this subject and device: something risk knows has changed. */
  invalidate(subject: string, deviceId: string | null): number {
    const prefix = `${subject}\u0000${deviceId ?? ''}\u0000`;
    let n = 0;
    for (const key of this.entries.keys()) {
      if (key.startsWith(prefix)) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}
