// TOTP (RFC 6238) without I/O: secrets, provisioning URIs, and which time step a code belongs to.
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

export interface TotpSettings {
  issuer: string;
  digits: number;
  periodSeconds: number;
  /** Steps accepted either side of now for clock drift; at most 1. */
  window: number;
}

/** 160 bits, the HMAC-SHA1 block-friendly size RFC 4226 recommends; SHA-1 because every authenticator app speaks it. */
export const newTotpSecret = (): Buffer => randomBytes(20);

function totpOf(secret: Buffer, s: TotpSettings, label = 'StepGate'): TOTP {
  return new TOTP({
    issuer: s.issuer,
    label,
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: 'SHA1',
    digits: s.digits,
    period: s.periodSeconds,
  });
}

export function base32Secret(secret: Buffer): string {
  return new Secret({ buffer: Uint8Array.from(secret).buffer }).base32;
}

export function provisioningUri(secret: Buffer, accountLabel: string, s: TotpSettings): string {
  return totpOf(secret, s, accountLabel).toString();
}

/** The code for the step containing `timestampMs` (tests and tooling). */
export function codeAt(secret: Buffer, timestampMs: number, s: TotpSettings): string {
  return totpOf(secret, s).generate({ timestamp: timestampMs });
}

/**
 * The time step `code` was generated for, within ±window of now, or null. Comparison is constant-time
 * (otpauth); anything that is not exactly `digits` digits is refused before any HMAC is computed.
 */
export function matchStep(secret: Buffer, code: string, nowMs: number, s: TotpSettings): number | null {
  if (code.length !== s.digits || !/^[0-9]+$/.test(code)) return null;
  const totp = totpOf(secret, s);
  const delta = totp.validate({ token: code, timestamp: nowMs, window: Math.min(s.window, 1) });
  return delta === null ? null : totp.counter({ timestamp: nowMs }) + delta;
}

/**
 * A step may be used once, and never after a later one: otherwise a code seen over a shoulder could be
 * replayed within its window. The database applies the same rule atomically (see TotpFactorStore).
 */
export function isFreshStep(lastUsedStep: number | null, step: number): boolean {
  return lastUsedStep === null || step > lastUsedStep;
}
