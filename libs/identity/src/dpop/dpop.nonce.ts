// Stateless DPoP server nonces (RFC 9449 section 8): an HMAC of the current time step, so every gateway
// instance sharing the secret issues and accepts the same nonces without storing any.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DpopNonceChecker } from './dpop.proof';

export interface DpopNonceOptions {
  /** At least 32 bytes, from the environment; shared by every instance. */
  secret: string | Uint8Array;
  /** A secret being rotated out: its nonces are still accepted, never issued. */
  previousSecret?: string | Uint8Array;
  /** Length of a time step (default 300 s); a nonce is good for one to two steps. */
  stepSeconds?: number;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

const NONCE = /^[A-Za-z0-9_-]{43}$/;

/**
 * `issue()` gives the nonce of the current step; `check()` accepts the current and the previous step's.
 * A proof without a good nonce is answered `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a
 * `DPoP-Nonce: <issue()>` header; sending `DPoP-Nonce` on other DPoP answers too spares clients that retry
 * when the step changes.
 */
export class DpopNonces implements DpopNonceChecker {
  private readonly secrets: Buffer[];
  private readonly stepMs: number;
  private readonly now: () => number;
  private cached: { step: number; nonce: string } | undefined;

  constructor(options: DpopNonceOptions) {
    this.secrets = [options.secret, options.previousSecret]
      .filter((s): s is string | Uint8Array => s !== undefined)
      .map((s) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s)));
    if (this.secrets.some((s) => s.length < 32))
      throw new RangeError('a nonce secret needs at least 32 bytes');
    const stepSeconds = options.stepSeconds ?? 300;
    if (!(stepSeconds >= 1)) throw new RangeError('stepSeconds must be at least 1');
    this.stepMs = stepSeconds * 1000;
    this.now = options.now ?? Date.now;
  }

  issue(): string {
    const step = this.step();
    if (this.cached?.step !== step) this.cached = { step, nonce: this.mac(this.secrets[0]!, step) };
    return this.cached.nonce;
  }

  check(nonce: string): boolean {
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) return false;
    const given = Buffer.from(nonce, 'utf8');
    const step = this.step();
    let ok = false;
    // Every candidate is compared, so the time taken says nothing about which one matched.
    for (const secret of this.secrets)
      for (const s of [step, step - 1]) ok = timingSafeEqual(given, Buffer.from(this.mac(secret, s))) || ok;
    return ok;
  }

  private step(): number {
    return Math.floor(this.now() / this.stepMs);
  }

  private mac(secret: Buffer, step: number): string {
    return createHmac('sha256', secret).update(`stepgate-dpop-nonce:${step}`).digest('base64url');
  }
}
