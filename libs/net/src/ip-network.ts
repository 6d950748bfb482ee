// IP arithmetic for the network and country signals: which network an address belongs to, and whether
// it is a globally routed address a geo database can place. IPv4-mapped IPv6 addresses count as IPv4.
import { BlockList } from 'node:net';

export type ParsedIp = { family: 4; octets: number[] } | { family: 6; groups: number[] };

/** Parses an IPv4 or IPv6 literal (zone ids dropped); null when it is neither. */
export function parseIp(ip: string): ParsedIp | null {
  const v4 = parseIpv4(ip);
  if (v4) return { family: 4, octets: v4 };
  const groups = parseIpv6(ip);
  if (!groups) return null;
  if (isV4Mapped(groups)) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return { family: 4, octets: [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff] };
  }
  return { family: 6, groups };
}

/** The address in canonical text: dotted quad for IPv4 (and IPv4-mapped), compressed lower-case for IPv6. */
export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) return ip.octets.join('.');
  return compressIpv6(ip.groups);
}

/** The /24 of an IPv4 address or the /48 of an IPv6 address, e.g. `203.0.113.0/24`, `2001:db8:1::/48`. */
export function networkOf(ip: string): string | null {
  const parsed = parseIp(ip);
  if (!parsed) return null;
  if (parsed.family === 4) return `${parsed.octets.slice(0, 3).join('.')}.0/24`;
  return `${compressIpv6([...parsed.groups.slice(0, 3), 0, 0, 0, 0, 0])}/48`;
}

// Special-purpose ranges (RFC 6890 and friends): never on the public internet, so they have no geography.
const nonGlobal = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const) {
  nonGlobal.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 127],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  nonGlobal.addSubnet(net, prefix, 'ipv6');
}

/** True for an address that is routed on the public internet (not loopback, private, link-local, documentation...). */
export function isGlobalAddress(ip: string): boolean {
  const parsed = parseIp(ip);
  if (!parsed) return false;
  return !nonGlobal.check(formatIp(parsed), parsed.family === 4 ? 'ipv4' : 'ipv6');
}

function parseIpv4(ip: string): number[] | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  const octets = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : NaN));
  return octets.every((o) => o >= 0 && o <= 255) ? octets : null;
}

function parseIpv6(ip: string): number[] | null {
  let text = ip.toLowerCase().split('%')[0]!;
  // A trailing dotted quad (`::ffff:1.2.3.4`) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const octets = parseIpv4(tail);
    if (!octets) return null;
    text = `${text.slice(0, lastColon + 1)}${hex16(octets[0]!, octets[1]!)}:${hex16(octets[2]!, octets[3]!)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const fields = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (!fields.every((f) => /^[0-9a-f]{1,4}$/.test(f))) return null;
  return fields.map((f) => parseInt(f, 16));
}

function isV4Mapped(groups: number[]): boolean {
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
}

function hex16(hi: number, lo: number): string {
  return ((hi << 8) | lo).toString(16);
}

/** RFC 5952: the longest run (of two or more) of zero groups becomes `::`. */
function compressIpv6(groups: number[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.length < 2) return hex.join(':');
  const left = hex.slice(0, best.start).join(':');
  const right = hex.slice(best.start + best.length).join(':');
  return `${left}::${right}`;
}

/** The /16 of an IPv4 address or the /32 of an IPv6 address: a stand-in for the operator (ASN) behind it. */
export function blockOf(ip: string): string | null {
  const parsed = parseIp(ip);
  if (!parsed) return null;
  if (parsed.family === 4) return `${parsed.octets.slice(0, 2).join('.')}.0.0/16`;
  return `${compressIpv6([...parsed.groups.slice(0, 2), 0, 0, 0, 0, 0, 0])}/32`;
}

/** Parses `a.b.c.d/n`, `v6::/n` or a bare address (a /32 or /128); null when malformed. */
export function parseCidr(text: string): { ip: ParsedIp; prefix: number } | null {
  const [address, bits, ...rest] = text.trim().split('/');
  if (address === undefined || rest.length > 0) return null;
  const ip = parseIp(address);
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  if (bits === undefined) return { ip, prefix: max };
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return null;
  return { ip, prefix: Number(bits) };
}

/**
 * A list of CIDR ranges (validated by the config schema with parseCidr). Matching costs one map lookup per
 * distinct prefix length in the list (at most 33 for IPv4, 129 for IPv6), whatever its size: bad-IP feeds
 * run to tens of thousands of ranges, and every access is matched. The first range in list order wins.
 */
export class CidrList {
  /** Per family, per prefix length: network value -> position in the list. */
  private readonly v4 = new Map<number, Map<number, number>>();
  private readonly v6 = new Map<number, Map<bigint, number>>();

  constructor(private readonly cidrs: readonly string[]) {
    cidrs.forEach((cidr, index) => {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new Error(`not a CIDR range: ${cidr}`);
      const { ip, prefix } = parsed;
      if (ip.family === 4) add(this.v4, prefix, maskV4(v4Value(ip.octets), prefix), index);
      else add(this.v6, prefix, maskV6(v6Value(ip.groups), prefix), index);
    });
  }

  match(ip: string): string | null {
    if (this.cidrs.length === 0) return null;
    const parsed = parseIp(ip);
    if (!parsed) return null;
    let best = Infinity;
    if (parsed.family === 4) {
      const value = v4Value(parsed.octets);
      for (const [prefix, nets] of this.v4)
        best = Math.min(best, nets.get(maskV4(value, prefix)) ?? Infinity);
    } else {
      const value = v6Value(parsed.groups);
      for (const [prefix, nets] of this.v6)
        best = Math.min(best, nets.get(maskV6(value, prefix)) ?? Infinity);
    }
    return best === Infinity ? null : this.cidrs[best]!;
  }
}

function add<K>(byPrefix: Map<number, Map<K, number>>, prefix: number, net: K, index: number): void {
  let nets = byPrefix.get(prefix);
  if (!nets) byPrefix.set(prefix, (nets = new Map<K, number>()));
  if (!nets.has(net)) nets.set(net, index);
}

const v4Value = (octets: readonly number[]): number =>
  ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
const maskV4 = (value: number, prefix: number): number =>
  prefix === 0 ? 0 : (value & (0xffffffff << (32 - prefix))) >>> 0;
const v6Value = (groups: readonly number[]): bigint =>
  groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
const ALL_128 = (1n << 128n) - 1n;
const maskV6 = (value: bigint, prefix: number): bigint =>
  value & (ALL_128 ^ ((1n << BigInt(128 - prefix)) - 1n));
