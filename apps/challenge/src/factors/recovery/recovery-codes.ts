// Recovery codes without I/O: generation, the forgiving normalisation people need when typing them, and the
// keyed hash they are stored as.
//
// Why HMAC with a server key and not scrypt: the codes are 60 random bits, not human-chosen, so a slow hash adds
// nothing an attacker would notice offline (2^60 guesses is out of reach either way), while it would cost a
// scrypt per stored code on every attempt (an amplifier for anyone sending guesses) and rule out looking the
// code up by its hash, which is what makes spending one a single atomic UPDATE. The key comes from the
// environment (derived from the factor key), so a database dump alone cannot even be brute-forced.
import { createHmac, randomInt } from 'node:crypto';
import type { FactorKey } from '../../config';

/** Crockford's base32: no I, L, O or U, so a code read aloud or from paper is hard to get wrong. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 3;
const GROUP_LENGTH = 4;
/** 12 symbols of 5 bits: 60 bits per code. */
export const CODE_SYMBOLS = GROUPS * GROUP_LENGTH;

/** One fresh code, shown as `XXXX-XXXX-XXXX`. */
export function newRecoveryCode(): string {
  const symbols = Array.from({ length: CODE_SYMBOLS }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return symbols.match(new RegExp(`.{${GROUP_LENGTH}}`, 'g'))!.join('-');
}

/** The canonical form of what a person typed, or null if it cannot be a code. */
export function normaliseRecoveryCode(input: string): string | null {
  const compact = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (compact.length !== CODE_SYMBOLS) return null;
  for (const c of compact) if (!ALPHABET.includes(c)) return null;
  return compact;
}

/** The stored form: bound to the subject, so a code of one account is never a code of another. */
export function hashRecoveryCode(key: FactorKey, subject: string, normalised: string): string {
  return createHmac('sha256', key.key).update(`${subject}\0${normalised}`).digest('hex');
}
