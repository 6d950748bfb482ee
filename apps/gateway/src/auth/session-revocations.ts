// Server-side revocation of browser sessions (adr/0008, "Revocation"). The session cookie is stateless, so a
// logged-out or replaced cookie would otherwise stay valid until its timeouts. Every instance follows
// stepgate.session.revoked.v1 from the start of what retention keeps (a group of its own, like the policy
// topic) and holds the revoked ids in a bounded in-memory set, each until the session's absolute expiry: after
// that the cookie is refused anyway, so the entry can go.
//
// Until the topic has been read to where it stood when this instance started, a session older than the
// instance may have been revoked without its knowing (a gateway started while Kafka is away knows no
// revocation at all): such sessions are refused, and their users sign in again. Sessions made since are
// accepted meanwhile, and one signed out at another instance in that time is accepted here until this one
// reads the topic: the exposure of any instance cut off from Kafka, not only of one that is starting.
import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { TOPICS, type SessionRevocationReason, type SessionRevoked } from '@stepgate/contracts';
import type { MessageBus } from '@stepgate/kafka';
import { LRUCache } from 'lru-cache';
import type { Session, SessionTimeouts } from './session';

export interface SessionRevocationsOptions {
  /**
   * At most this many revoked ids are held. Past it the least recently used entry is dropped (and that
   * session would be accepted again until it expires): size it above the revocations one absolute session
   * lifetime produces. An entry is ~200 bytes, so the default is ~20 MB at worst.
   */
  maxEntries: number;
  /** Wall clock in milliseconds (tests move it). */
  now: () => number;
}

const DEFAULTS: SessionRevocationsOptions = { maxEntries: 100_000, now: () => Date.now() };

/** Sessions made up to this long after the start count as older than it: clocks of instances differ. */
const CLOCK_SKEW_MS = 5_000;

export class SessionRevocations implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SessionRevocations.name);
  private readonly revoked: LRUCache<string, true>;
  private readonly now: () => number;
  private unfollow: (() => Promise<void>) | null = null;
  private evicted = 0;
  /** When this instance began following the topic; sessions older than that wait for caughtUp. */
  private startedAt = Number.POSITIVE_INFINITY;
  private caughtUp = false;

  constructor(
    private readonly bus: MessageBus,
    private readonly timeouts: Pick<SessionTimeouts, 'absoluteTimeoutSeconds'>,
    options: Partial<SessionRevocationsOptions> = {},
  ) {
    const { maxEntries, now } = { ...DEFAULTS, ...options };
    this.now = now;
    this.revoked = new LRUCache<string, true>({
      max: maxEntries,
      // Expiry is checked on read; nothing needs a timer.
      ttlAutopurge: false,
      // Read the clock on every check, not a cached one (lru-cache's default caches it for 1 ms).
      ttlResolution: 0,
      perf: { now },
      dispose: (_value, sessionId, reason) => {
        if (reason !== 'evict') return;
        // A live revocation pushed out by the bound: that session is accepted again. Say so, not on every one.
        if (this.evicted++ % 1000 === 0)
          this.logger.warn(
            `revocation list full (${maxEntries}): dropped a live entry (${sessionId}); ` +
              `${this.evicted} so far`,
          );
      },
    });
  }

  async onModuleInit(): Promise<void> {
    this.startedAt = this.now();
    this.unfollow = await this.bus.follow(
      TOPICS.sessionRevoked,
      (event) => {
        this.remember(event);
      },
      {
        onCaughtUp: () => {
          this.caughtUp = true;
          this.logger.log(
            `session revocations read (${this.revoked.size} held): older sessions accepted again`,
          );
        },
      },
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.unfollow?.();
    this.unfollow = null;
  }

  /** Whether this session id was ended before its time (logout, elevation). */
  isRevoked(sessionId: string): boolean {
    return this.revoked.get(sessionId) === true;
  }

  /**
   * Whether a session must be refused: it was revoked, or it is older than this instance and the revocations
   * published before the instance started have not been read yet (fail closed: its user signs in again).
   */
  refuses(session: Pick<Session, 'sid' | 'createdAt'>): boolean {
    if (this.isRevoked(session.sid)) return true;
    return !this.caughtUp && session.createdAt * 1000 < this.startedAt + CLOCK_SKEW_MS;
  }

  /** A readiness warning while older sessions are refused. */
  readinessWarnings(): string[] {
    return this.caughtUp
      ? []
      : ['session revocations not read yet (Kafka): browser sessions older than this instance are refused'];
  }

  /**
   * Revokes the session here at once, then tells every instance. True when the broker took the event; a failed
   * publish is logged, never thrown: the caller still ends the session for this browser (cookie cleared or
   * replaced), and this instance refuses the old cookie.
   */
  async revoke(session: Session, reason: SessionRevocationReason, correlationId?: string): Promise<boolean> {
    const nowMs = this.now();
    const event: SessionRevoked = {
      sessionId: session.sid,
      subject: session.sub,
      revokedAt: new Date(nowMs).toISOString(),
      expiresAt: new Date((session.createdAt + this.timeouts.absoluteTimeoutSeconds) * 1000).toISOString(),
      reason,
    };
    this.remember(event);
    try {
      await this.bus.publish(TOPICS.sessionRevoked, event, { correlationId });
      return true;
    } catch (err) {
      this.logger.error(
        `session ${session.sid} (${reason}) revoked on this instance only: ${(err as Error).message}`,
      );
      return false;
    }
  }

  /** Holds a revocation until its session's expiry; one already past it (a replay of old events) is skipped. */
  private remember(event: SessionRevoked): void {
    // Already held: this instance's own revocation coming back from the topic changes nothing.
    if (this.revoked.has(event.sessionId)) return;
    const ttl = Date.parse(event.expiresAt) - this.now();
    if (ttl <= 0) return;
    this.revoked.set(event.sessionId, true, { ttl });
  }

  /** How many revocations are held now (entries past their expiry may still count until read). */
  get size(): number {
    return this.revoked.size;
  }
}
