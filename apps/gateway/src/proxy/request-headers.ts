// What no honest client sends, refused before anything reads a header: a repeated single-valued header that
// a decision rests on (which copy would each hop believe? Node keeps the first Authorization, joins Cookie
// lines, and an upstream may take the last), and header values whose bytes are not UTF-8 (Node reads them
// as Latin-1, so `\xff\xfe` would reach the upstream as `ÿþ`). RFC 9110 section 5.3 and RFC 9112 allow a
// server to reject both with 400. Pure.

/** Headers a decision rests on that may appear once: a second copy is an attack on some parser, not a list. */
export const SINGLE_VALUED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'authorization',
  'proxy-authorization',
  'cookie',
  'dpop',
  'x-device-id',
  'origin',
  'sec-fetch-site',
  'content-length',
]);

export class BadRequestHeader extends Error {
  readonly code = 'invalid_header';
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const NON_ASCII = /[\x80-\xff]/;

/** Throws BadRequestHeader. `rawHeaders` is Node's flat [name, value, name, value, ...] list, as received. */
export function checkRequestHeaders(rawHeaders: readonly string[]): void {
  const seen = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (SINGLE_VALUED_HEADERS.has(name)) {
      if (seen.has(name)) throw new BadRequestHeader(`more than one ${name} header`);
      seen.add(name);
    }
    if (NON_ASCII.test(value) && !isUtf8(Buffer.from(value, 'latin1')))
      throw new BadRequestHeader(`the ${name} header is not UTF-8`);
  }
}

function isUtf8(bytes: Buffer): boolean {
  try {
    UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
