import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashRecoveryCode, newRecoveryCode, normaliseRecoveryCode } from './recovery-codes';

const key = { id: 'k1', key: randomBytes(32) };

describe(newRecoveryCode.name, () => {
  it('makes grouped codes of unambiguous symbols, all different', () => {
    const codes = Array.from({ length: 200 }, newRecoveryCode);
    for (const code of codes)
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe(normaliseRecoveryCode.name, () => {
  it('forgives case, spaces, dashes and look-alike letters', () => {
    expect(normaliseRecoveryCode(' abcd-efgh-0o1l ')).toBe('ABCDEFGH0011');
    expect(normaliseRecoveryCode('ABCD EFGH 0011')).toBe('ABCDEFGH0011');
  });

  it('refuses what cannot be a code', () => {
    for (const bad of ['', 'ABCD-EFGH', 'ABCD-EFGH-001U', 'ABCD-EFGH-00112', '<script>abc</s']) {
      expect(normaliseRecoveryCode(bad)).toBeNull();
    }
  });
});

describe(hashRecoveryCode.name, () => {
  it('depends on the key and the subject, and reveals nothing of the code', () => {
    const code = normaliseRecoveryCode(newRecoveryCode())!;
    const h = hashRecoveryCode(key, 'alice', code);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toContain(code.toLowerCase());
    expect(hashRecoveryCode(key, 'alice', code)).toBe(h);
    expect(hashRecoveryCode(key, 'bob', code)).not.toBe(h);
    expect(hashRecoveryCode({ id: 'k2', key: randomBytes(32) }, 'alice', code)).not.toBe(h);
  });
});
