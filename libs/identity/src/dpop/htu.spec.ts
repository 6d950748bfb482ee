import { describe, expect, it } from 'vitest';
import { normaliseHtu } from './htu';

describe(normaliseHtu.name, () => {
  it.each([
    ['HTTPS://Example.COM/a', 'https://example.com/a'],
    ['https://example.com:443/a', 'https://example.com/a'],
    ['http://example.com:80/a', 'http://example.com/a'],
    ['https://example.com:8443/a', 'https://example.com:8443/a'],
    ['https://example.com', 'https://example.com/'],
    ['https://example.com/a/./b/../c', 'https://example.com/a/c'],
    ['https://example.com/%7euser/%2fx/%c3%a9', 'https://example.com/~user/%2Fx/%C3%A9'],
    ['https://example.com/a?q=1#f', 'https://example.com/a'],
    ['https://bücher.example/a', 'https://xn--bcher-kva.example/a'],
  ])('%s -> %s', (input, expected) => {
    expect(normaliseHtu(input)).toBe(expected);
    expect(normaliseHtu(new URL(input))).toBe(expected);
  });

  it.each(['/a', 'example.com/a', 'ftp://example.com/a', 'https://u:p@example.com/a', 'https://', ''])(
    'refuses %j',
    (input) => {
      expect(normaliseHtu(input)).toBeNull();
    },
  );
});
