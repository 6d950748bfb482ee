import { describe, expect, it } from 'vitest';
import { clientAddress, TrustedProxies } from './client-address';

describe(clientAddress.name, () => {
  const none = new TrustedProxies([]);
  const lb = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);

  it('believes nobody by default: the socket peer is the client', () => {
    expect(clientAddress('203.0.113.9', '1.2.3.4', none)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:203.0.113.9', undefined, none)).toBe('203.0.113.9');
  });

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(clientAddress('198.51.100.7', '1.2.3.4', lb)).toBe('198.51.100.7');
  });

  it('takes the right-most entry that is not a trusted proxy', () => {
    expect(clientAddress('127.0.0.1', '1.2.3.4', lb)).toBe('1.2.3.4');
    // The client prepended a spoofed address; the proxies appended what they saw.
    expect(clientAddress('127.0.0.1', '6.6.6.6, 198.51.100.7, 10.1.2.3', lb)).toBe('198.51.100.7');
    expect(clientAddress('::ffff:127.0.0.1', ['6.6.6.6', '198.51.100.7'], lb)).toBe('198.51.100.7');
  });

  it('stops at a malformed entry and keeps the last trusted hop', () => {
    expect(clientAddress('127.0.0.1', 'evil, 10.0.0.5', lb)).toBe('10.0.0.5');
    expect(clientAddress('127.0.0.1', 'not-an-ip', lb)).toBe('127.0.0.1');
  });

  it('gives the left-most entry when every hop is trusted', () => {
    expect(clientAddress('127.0.0.1', '10.0.0.1, 10.0.0.2', lb)).toBe('10.0.0.1');
  });

  it('matches IPv6 blocks', () => {
    expect(clientAddress('fd00::1', '2001:db8::5', lb)).toBe('2001:db8::5');
  });
});
