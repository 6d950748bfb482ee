// What binds a step-up challenge to the session it was opened in. The gateway computes it when it opens a
// challenge (it travels as `sessionId`), the challenge service when the challenge is viewed or verified: one
// rule in one place, so both sides always agree.
import { createHash } from 'node:crypto';
import type { VerifiedToken } from './token.verifier';

/**
 * The token's session binding: its `sid`, else its `jti` (hashed, prefixed `jti:`), else a SHA-256 of its
 * verified claims (prefixed `tok:`): never the token or its claims themselves, which would put a credential
 * in a database row. At most 128 characters for a `sid` that fits the contracts, 47 otherwise.
 *
 * The last form hashes the claims because a VerifiedToken does not keep the compact token: two tokens with
 * exactly the same claims (same issuer, subject, audience and issue time to the second, no `sid`, no `jti`)
 * share a binding.
 */
export function sessionBindingOf(token: VerifiedToken): string {
  // A sid stays as it is: challenges opened before this rule, and the gateway's existing requests, carry it so.
  if (token.sessionId !== null) return token.sessionId;
  if (token.tokenId !== null) return `jti:${sha256(token.tokenId)}`;
  return `tok:${sha256(canonicalJson(token.claims))}`;
}

const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('base64url');

/** JSON with object keys sorted at every depth: the same claims give the same text on every side. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
