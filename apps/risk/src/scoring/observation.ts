import { formatIp, isGlobalAddress, networkOf, parseIp } from './ip-network';
import type { GeoLookup, Observation } from './scoring.types';

/** What the client IP tells us: its network always, its country only for a public address the geo data knows. */
export function observe(clientIp: string | null, geo: GeoLookup): Observation {
  const parsed = clientIp === null ? null : parseIp(clientIp);
  if (!parsed) return { network: null, country: null };
  const ip = formatIp(parsed);
  return { network: networkOf(ip), country: isGlobalAddress(ip) ? geo(ip) : null };
}
