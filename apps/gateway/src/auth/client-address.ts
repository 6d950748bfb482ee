// Who the client is on the network. The socket peer, unless that peer is a configured trusted proxy: then
// the right-most X-Forwarded-For entry that is not itself a trusted proxy. Pure.
import { BlockList, isIP } from 'node:net';

export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    for (const entry of cidrs) {
      const [addr, bits] = entry.trim().split('/') as [string, string | undefined];
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
    }
    this.empty = cidrs.length === 0;
  }

  has(ip: string): boolean {
    if (this.empty) return false;
    const family = isIP(ip);
    if (family === 0) return false;
    return this.list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:10.0.0.1` is the IPv4 client 10.0.0.1. */
export function unmapped(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/**
 * The client address risk sees. Forwarded-for entries are read right to left (the right-most was written
 * by the nearest proxy); the first one that is not a trusted proxy is the client. A malformed entry stops
 * the walk: what is left of it was written by someone we do not trust, so the last trusted hop is used.
 */
export function clientAddress(
  socketPeer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: TrustedProxies,
): string {
  const peer = unmapped(socketPeer ?? '0.0.0.0');
  if (!trusted.has(peer) || forwardedFor === undefined) return peer;
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const ip = unmapped(entries[i]!);
    if (isIP(ip) === 0) break;
    client = ip;
    if (!trusted.has(ip)) break;
  }
  return client;
}
