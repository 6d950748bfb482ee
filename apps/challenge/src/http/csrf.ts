// CSRF tokens for browser requests: an HMAC over who is acting (subject, device, session) and on what (a scope:
// one challenge, or the account's factors), with the time it was issued. Stateless, so any instance can check
// it; bound, so a token from one page, account, device or session is useless for another.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { FactorKey } from '../config';
import { SecretBox } from '../factors/crypto/secret-box';

export interface CsrfBinding {
  subject: string;
  deviceId: string;
  sessionId: string | null;
  /** `challenge:<id>` or `factors`. */
  scope: string;
}

/** A page left open longer than this has to be reloaded before it can change anything. */
export const CSRF_TTL_MS = 2 * 60 * 60 * 1000;
const SKEW_MS = 60_000;
const TOKEN = /^([0-9]{1,15})\.([A-Za-z0-9_-]{43})$/;

@Injectable()
export class CsrfTokens {
  private readonly keys: { current: FactorKey; all: FactorKey[] };

  constructor(box: SecretBox) {
    this.keys = box.derive('csrf');
  }

  issue(binding: CsrfBinding, nowMs: number): string {
    const issuedAt = String(nowMs);
    return `${issuedAt}.${mac(this.keys.current, issuedAt, binding).toString('base64url')}`;
  }

  verify(binding: CsrfBinding, token: unknown, nowMs: number): boolean {
    if (typeof token !== 'string') return false;
    const match = TOKEN.exec(token);
    if (!match) return false;
    const [, issuedAt, sent] = match as unknown as [string, string, string];
    const age = nowMs - Number(issuedAt);
    if (age < -SKEW_MS || age > CSRF_TTL_MS) return false;
    const given = Buffer.from(sent, 'base64url');
    // Every key is tried, so tokens issued just before a key rotation keep working until they expire.
    return this.keys.all.map((key) => timingSafeEqual(mac(key, issuedAt, binding), given)).some(Boolean);
  }
}

function mac(key: FactorKey, issuedAt: string, b: CsrfBinding): Buffer {
  return createHmac('sha256', key.key)
    .update(['csrf-v1', issuedAt, b.subject, b.deviceId, b.sessionId ?? '', b.scope].join('\0'))
    .digest();
}
