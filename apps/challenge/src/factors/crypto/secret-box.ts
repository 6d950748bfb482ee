// AES-256-GCM for secrets at rest (TOTP seeds, the token signing key). Every value is bound to where it lives
// through the associated data, so a ciphertext copied into another row or column does not decrypt there.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { FactorKey } from '../../config';

export interface SealedSecret {
  /** Which key sealed it: rows keep working while keys rotate. */
  keyId: string;
  /** base64url of version | iv | tag | ciphertext. */
  ciphertext: string;
}

export class SecretBoxError extends Error {
  readonly code = 'secret_unreadable';
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly current: FactorKey,
    previous: readonly FactorKey[] = [],
  ) {
    for (const k of [current, ...previous]) {
      if (k.key.length !== 32) throw new Error(`factor key ${k.id} is not 32 bytes`);
      this.keys.set(k.id, k.key);
    }
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  /**
   * Keys for another purpose (recovery-code hashing, CSRF tokens) derived from the factor keys with HKDF, so one
   * secret from the environment serves all and rotates together; `current` first, then retired ones by id.
   */
  derive(purpose: string): { current: FactorKey; all: FactorKey[] } {
    const derive = (k: FactorKey): FactorKey => ({
      id: k.id,
      key: Buffer.from(hkdfSync('sha256', k.key, Buffer.alloc(0), `stepgate-challenge/${purpose}`, 32)),
    });
    const all = [...this.keys].map(([id, key]) => derive({ id, key }));
    return { current: all[0]!, all };
  }

  /** `context` names the owner, e.g. `totp:<factor id>`; the same context is needed to open it. */
  seal(plaintext: Buffer, context: string): SealedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(aad(this.current.id, context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const packed = Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), body]);
    return { keyId: this.current.id, ciphertext: packed.toString('base64url') };
  }

  open(sealed: SealedSecret, context: string): Buffer {
    const key = this.keys.get(sealed.keyId);
    if (!key)
      throw new SecretBoxError(`no key ${sealed.keyId} to open a secret with (was it retired too early?)`);
    const packed = Buffer.from(sealed.ciphertext, 'base64url');
    if (packed.length < 1 + IV_BYTES + TAG_BYTES || packed[0] !== VERSION) {
      throw new SecretBoxError('sealed secret has an unknown format');
    }
    const iv = packed.subarray(1, 1 + IV_BYTES);
    const tag = packed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad(sealed.keyId, context));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(packed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError(
        'sealed secret failed authentication (tampered, or opened in the wrong context)',
      );
    }
  }
}

function aad(keyId: string, context: string): Buffer {
  return Buffer.from(`stepgate-challenge/v${VERSION}\0${keyId}\0${context}`, 'utf8');
}
