import { describe, expect, it } from 'vitest';
import { checkRequestHeaders, SINGLE_VALUED_HEADERS } from './request-headers';

const latin1 = (bytes: number[]) => Buffer.from(bytes).toString('latin1');

describe(checkRequestHeaders.name, () => {
  it('refuses a second copy of every single-valued header, whatever its case', () => {
    for (const name of SINGLE_VALUED_HEADERS) {
      expect(() => checkRequestHeaders([name, 'a', name.toUpperCase(), 'b']), name).toThrow(
        `more than one ${name} header`,
      );
    }
  });

  it('lets list-valued headers repeat', () => {
    expect(() =>
      checkRequestHeaders([
        'Accept',
        'text/html',
        'accept',
        'application/json',
        'X-Forwarded-For',
        '1.2.3.4',
      ]),
    ).not.toThrow();
  });

  it('refuses header values whose bytes are not UTF-8, and accepts UTF-8 and ASCII', () => {
    expect(() => checkRequestHeaders(['X-Note', latin1([0xff, 0xfe])])).toThrow(
      'the x-note header is not UTF-8',
    );
    expect(() => checkRequestHeaders(['User-Agent', latin1([0x41, 0xc3])])).toThrow(/not UTF-8/);
    // "é" as UTF-8 bytes, as Node hands them over (one Latin-1 character per byte).
    expect(() => checkRequestHeaders(['X-Name', latin1([0x52, 0xc3, 0xa9, 0x6d, 0x79])])).not.toThrow();
    expect(() => checkRequestHeaders(['User-Agent', 'curl/8.5.0'])).not.toThrow();
  });
});
