import { describe, expect, it } from 'vitest';
import { blockOf, CidrList, formatIp, isGlobalAddress, networkOf, parseCidr, parseIp } from './ip-network';

describe('ip-network', () => {
  describe(networkOf.name, () => {
    it.each([
      ['203.0.113.7', '203.0.113.0/24'],
      ['10.1.2.3', '10.1.2.0/24'],
      ['::ffff:198.51.100.9', '198.51.100.0/24'],
      ['2001:db8:1:2::5', '2001:db8:1::/48'],
      ['2001:0DB8:0001:ffff:0:0:0:1', '2001:db8:1::/48'],
      ['2001:db8::1', '2001:db8::/48'],
      ['::1', '::/48'],
      ['fe80::1%eth0', 'fe80::/48'],
    ])('puts %s in %s', (ip, network) => {
      expect(networkOf(ip)).toBe(network);
    });

    it.each([
      '',
      'not-an-ip',
      '1.2.3',
      '256.1.1.1',
      '01.2.3.4',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:8::',
    ])('refuses %j', (ip) => {
      expect(networkOf(ip)).toBeNull();
    });
  });

  describe(formatIp.name, () => {
    it.each([
      ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['::', '::'],
      ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
      ['::ffff:1.2.3.4', '1.2.3.4'],
    ])('writes %s as %s', (ip, canonical) => {
      const parsed = parseIp(ip);
      expect(parsed).not.toBeNull();
      expect(formatIp(parsed!)).toBe(canonical);
    });
  });

  describe(isGlobalAddress.name, () => {
    it.each(['8.8.8.8', '81.2.69.142', '2a00:1450:4001::1', '::ffff:8.8.8.8'])('%s is global', (ip) => {
      expect(isGlobalAddress(ip)).toBe(true);
    });

    it.each([
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.0.1',
      '100.64.0.1',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:10.0.0.1',
      'garbage',
    ])('%s is not global', (ip) => {
      expect(isGlobalAddress(ip)).toBe(false);
    });
  });
});

describe(blockOf.name, () => {
  it('gives the /16 of IPv4 and the /32 of IPv6', () => {
    expect(blockOf('81.2.69.142')).toBe('81.2.0.0/16');
    expect(blockOf('2001:db8:1:2::1')).toBe('2001:db8::/32');
    expect(blockOf('::ffff:81.2.69.142')).toBe('81.2.0.0/16');
    expect(blockOf('nope')).toBeNull();
  });
});

describe(CidrList.name, () => {
  const sut = new CidrList(['203.0.113.0/24', '2001:db8::/32', '198.51.100.7']);

  it('names the range an address falls in', () => {
    expect(sut.match('203.0.113.99')).toBe('203.0.113.0/24');
    expect(sut.match('::ffff:203.0.113.1')).toBe('203.0.113.0/24');
    expect(sut.match('2001:db8:ffff::1')).toBe('2001:db8::/32');
    expect(sut.match('198.51.100.7')).toBe('198.51.100.7');
  });

  it('matches nothing outside its ranges, or for garbage', () => {
    expect(sut.match('203.0.114.1')).toBeNull();
    expect(sut.match('198.51.100.8')).toBeNull();
    expect(sut.match('not an ip')).toBeNull();
  });

  it('refuses a malformed range', () => {
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('10.0.0/8')).toBeNull();
    expect(parseCidr('10.0.0.0/8/1')).toBeNull();
    expect(() => new CidrList(['10.0.0.0/33'])).toThrow(/not a CIDR/);
  });
});

describe(`${CidrList.name} at scale`, () => {
  it('matches by prefix, the first listed range winning, for IPv4, mapped IPv4 and IPv6', () => {
    const sut = new CidrList(['10.0.0.0/8', '10.1.0.0/16', '0.0.0.0/0', '2001:db8::/32', '203.0.113.7/32']);
    expect(sut.match('10.1.2.3')).toBe('10.0.0.0/8');
    expect(sut.match('203.0.113.7')).toBe('0.0.0.0/0');
    expect(sut.match('::ffff:10.9.9.9')).toBe('10.0.0.0/8');
    expect(sut.match('2001:db8:ffff::1')).toBe('2001:db8::/32');
    expect(sut.match('2001:db9::1')).toBeNull();
    expect(new CidrList(['203.0.113.7/32']).match('203.0.113.8')).toBeNull();
  });

  it('costs a lookup per prefix length, not per range: a 100,000-range feed', () => {
    const feed = Array.from(
      { length: 100_000 },
      (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`,
    );
    const sut = new CidrList(feed);
    expect(sut.match('11.134.159.77')).toBe('11.134.159.0/24');
    expect(sut.match('200.1.1.1')).toBeNull();
  });
});
