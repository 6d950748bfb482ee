import { randomBytes } from 'node:crypto';

/** A random URL-safe identifier; 24 bytes = 192 bits, so ids can be neither guessed nor enumerated. */
export const newId = (bytes = 24): string => randomBytes(bytes).toString('base64url');
