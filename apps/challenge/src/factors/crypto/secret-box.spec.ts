import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { derivedKeyId } from '../../config';
import { DEV_KEY_FILE, developmentKey } from './factor-keys';
import { SecretBox, SecretBoxError } from './secret-box';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe(SecretBox.name, () => {
  const sut = new SecretBox(key('k1'));
  const secret = Buffer.from('JBSWY3DPEHPK3PXP-seed');

  it('opens what it sealed, in the same context', () => {
    const sealed = sut.seal(secret, 'totp:f1');
    expect(sealed.keyId).toBe('k1');
    expect(sut.open(sealed, 'totp:f1')).toEqual(secret);
  });

  it('uses a fresh IV every time', () => {
    expect(sut.seal(secret, 'totp:f1').ciphertext).not.toBe(sut.seal(secret, 'totp:f1').ciphertext);
  });

  it('detects any tampering with the ciphertext', () => {
    const sealed = sut.seal(secret, 'totp:f1');
    const bytes = Buffer.from(sealed.ciphertext, 'base64url');
    for (const at of [1, 14, 30, bytes.length - 1]) {
      const tampered = Buffer.from(bytes);
      tampered[at]! ^= 0x01;
      expect(() => sut.open({ ...sealed, ciphertext: tampered.toString('base64url') }, 'totp:f1')).toThrow(
        SecretBoxError,
      );
    }
    expect(() =>
      sut.open({ ...sealed, ciphertext: bytes.subarray(0, 20).toString('base64url') }, 'totp:f1'),
    ).toThrow(SecretBoxError);
  });

  it('refuses a ciphertext moved to another row', () => {
    const sealed = sut.seal(secret, 'totp:f1');
    expect(() => sut.open(sealed, 'totp:f2')).toThrow(SecretBoxError);
  });

  it('refuses a key id relabelled on the row', () => {
    const both = new SecretBox(key('k2'), [key('k1')]);
    const sealed = both.seal(secret, 'totp:f1');
    expect(() => both.open({ ...sealed, keyId: 'k1' }, 'totp:f1')).toThrow(SecretBoxError);
  });

  it('opens rows sealed with a retired key while sealing with the current one', () => {
    const old = key('old');
    const sealedBefore = new SecretBox(old).seal(secret, 'totp:f1');
    const rotated = new SecretBox(key('new'), [old]);
    expect(rotated.open(sealedBefore, 'totp:f1')).toEqual(secret);
    expect(rotated.seal(secret, 'totp:f1').keyId).toBe('new');
    expect(() => new SecretBox(key('new')).open(sealedBefore, 'totp:f1')).toThrow(/no key old/);
  });

  it('refuses keys that are not 256 bits', () => {
    expect(() => new SecretBox({ id: 'short', key: randomBytes(16) })).toThrow();
  });
});

describe('developmentKey', () => {
  it('creates a 0600 key file once and reads the same key afterwards', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'factor-key-')), 'nested');
    const first = developmentKey(dir);
    const second = developmentKey(dir);
    expect(second.key.key.equals(first.key.key)).toBe(true);
    expect(first.key.id).toBe(derivedKeyId(first.key.key));
    expect(statSync(join(dir, DEV_KEY_FILE)).mode & 0o777).toBe(0o600);
  });

  it('refuses a key file others can read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'factor-key-'));
    writeFileSync(
      join(dir, DEV_KEY_FILE),
      JSON.stringify({ keyId: 'k', key: randomBytes(32).toString('base64') }),
      {
        mode: 0o644,
      },
    );
    expect(() => developmentKey(dir)).toThrow(/chmod 600/);
  });
});
