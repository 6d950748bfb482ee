import { describe, expect, it, vi } from 'vitest';
import { observe } from './observation';

describe(observe.name, () => {
  const geo = vi.fn((ip: string) => (ip === '81.2.69.142' ? 'GB' : null));

  it('gives the network and the country of a public address', () => {
    expect(observe('81.2.69.142', geo)).toEqual({ network: '81.2.69.0/24', country: 'GB' });
  });

  it('never asks the geo lookup about loopback or private addresses', () => {
    geo.mockClear();
    expect(observe('127.0.0.1', geo)).toEqual({ network: '127.0.0.0/24', country: null });
    expect(observe('192.168.1.20', geo)).toEqual({ network: '192.168.1.0/24', country: null });
    expect(geo).not.toHaveBeenCalled();
  });

  it('looks up IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(observe('::ffff:81.2.69.142', geo)).toEqual({ network: '81.2.69.0/24', country: 'GB' });
  });

  it('has nothing to say without an IP', () => {
    expect(observe(null, geo)).toEqual({ network: null, country: null });
  });
});
