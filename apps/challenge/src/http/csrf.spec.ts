import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../factors/crypto/secret-box';
import { CSRF_TTL_MS, CsrfTokens, type CsrfBinding } from './csrf';

const old = { id: 'k-old', key: randomBytes(32) };
const current = { id: 'k-new', key: randomBytes(32) };
const binding: CsrfBinding = { subject: 'alice', deviceId: 'laptop', sessionId: 's1', scope: 'challenge:c1' };
const t = 1_764_300_000_000;

describe(CsrfTokens.name, () => {
  const sut = new CsrfTokens(new SecretBox(current, [old]));

  it('accepts its own token for the same subject, device, session and scope', () => {
    expect(sut.verify(binding, sut.issue(binding, t), t + 1000)).toBe(true);
  });

  it.each([
    ['another subject', { subject: 'bob' }],
    ['another device', { deviceId: 'phone' }],
    ['another session', { sessionId: 's2' }],
    ['no session', { sessionId: null }],
    ['another challenge', { scope: 'challenge:c2' }],
    ['the factors scope', { scope: 'factors' }],
  ])('refuses it for %s', (_name, change) => {
    expect(sut.verify({ ...binding, ...change }, sut.issue(binding, t), t)).toBe(false);
  });

  it('expires, refuses tokens from the future, and refuses junk', () => {
    const token = sut.issue(binding, t);
    expect(sut.verify(binding, token, t + CSRF_TTL_MS)).toBe(true);
    expect(sut.verify(binding, token, t + CSRF_TTL_MS + 1)).toBe(false);
    expect(sut.verify(binding, sut.issue(binding, t + 120_000), t)).toBe(false);
    for (const junk of [
      undefined,
      42,
      '',
      'x.y',
      `${t}.${'A'.repeat(43)}`,
      `${t + 1}.${token.split('.')[1]}`,
    ]) {
      expect(sut.verify(binding, junk, t)).toBe(false);
    }
  });

  it('keeps accepting tokens made with a retired key', () => {
    const before = new CsrfTokens(new SecretBox(old)).issue(binding, t);
    expect(sut.verify(binding, before, t)).toBe(true);
    expect(new CsrfTokens(new SecretBox(current)).verify(binding, before, t)).toBe(false);
  });
});
