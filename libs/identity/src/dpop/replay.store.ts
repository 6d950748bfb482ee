// Single use of a DPoP proof's jti (RFC 9449 section 11.1): a store claims a key once until it expires.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ReplayStoreUnavailableError } from './dpop.errors';

export interface DpopReplayStore {
  /**
   * True the first time a key is claimed before `expiresAtSeconds` (epoch seconds), false afterwards.
   * Throws ReplayStoreUnavailableError when it cannot tell: the caller then refuses the proof (503).
   */
  claim(key: string, expiresAtSeconds: number): Promise<boolean>;
}

/**
 * The replay key of a proof: base64url(SHA-256(jkt, jti)), 43 characters whatever the jti's length. A jti
 * only has to be unique per key, so two clients choosing the same jti do not collide.
 */
export function replayKeyOf(jkt: string, jti: string): string {
  // jkt is base64url and cannot contain the separator, so the pair is encoded unambiguously.
  return createHash('sha256').update(`${jkt}\n${jti}`, 'utf8').digest('base64url');
}

/** Longer than any replayKeyOf result; a store refuses larger keys as a programming error. */
export const MAX_REPLAY_KEY_LENGTH = 256;

export interface MemoryReplayStoreOptions {
  /** Live entries held at most (default 100,000); size it as peak DPoP requests/s x (maxAge + skew). */
  maxEntries?: number;
  /** Least time between two sweeps of expired entries when the store is full (default 1 s). */
  sweepIntervalMs?: number;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

/**
 * A replay store for one gateway instance (several instances need PostgresReplayStore: each would
 * otherwise admit the same proof once). Bounded by lru-cache, but never by evicting: a forgotten live jti
 * is a replay admitted, so when every slot holds a live entry, claim fails closed with
 * ReplayStoreUnavailableError (the caller answers 503) until entries expire. Expired entries are swept
 * when the store is full, at most once per sweep interval, so a flood costs one O(n) sweep per interval.
 */
export class MemoryReplayStore implements DpopReplayStore {
  private readonly cache: LRUCache<string, true>;
  private readonly maxEntries: number;
  private readonly sweepIntervalMs: number;
  private readonly now: () => number;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryReplayStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1)
      throw new RangeError('maxEntries must be a positive integer');
    // lru-cache measures TTLs on its own clock; give it ours so expiry and `now` agree.
    const perf = { now: () => this.now() };
    this.cache = new LRUCache<string, true>({ max: this.maxEntries, ttlResolution: 0, perf });
  }

  get size(): number {
    return this.cache.size;
  }

  async claim(key: string, expiresAtSeconds: number): Promise<boolean> {
    assertReplayKey(key);
    const now = this.now();
    if (this.cache.has(key)) return false;
    if (this.cache.size >= this.maxEntries && now - this.lastSweep >= this.sweepIntervalMs) {
      this.lastSweep = now;
      this.cache.purgeStale();
    }
    // lru-cache would evict the least recently used entry, expired or not: never let it.
    if (this.cache.size >= this.maxEntries)
      throw new ReplayStoreUnavailableError('DPoP replay store is full');
    // At least one second, so a claim is never a no-op even for an expiry already past. lru-cache keeps an
    // entry while its age is <= ttl; one millisecond less makes it free at expiresAt, as in PostgreSQL.
    const ttl = Math.max(Math.ceil(expiresAtSeconds * 1000 - now), 1000) - 1;
    this.cache.set(key, true, { ttl });
    return true;
  }
}

export function assertReplayKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_REPLAY_KEY_LENGTH)
    throw new TypeError('replay key must be a non-empty string of at most 256 characters');
}
