// Turns a context's client IP and user agent into the feature values and place that scoring and learning use.
import { blockOf, formatIp, isGlobalAddress, networkOf, parseIp } from './ip-network';
import type { GeoLookup, Observation } from './scoring.types';
import { parseUserAgent } from './user-agent';

const MAX_VALUE = 64; // the sightings table's value column

/**
 * The network always; geography only for a public address the geo data knows. Region and city keys carry
 * their parents (`GB/ENG/London`), so two cities of one name in different countries stay apart.
 */
export function observe(clientIp: string | null, userAgent: string | null, geo: GeoLookup): Observation {
  const parsed = clientIp === null ? null : parseIp(clientIp);
  const ip = parsed ? formatIp(parsed) : null;
  const where = ip !== null && isGlobalAddress(ip) ? geo(ip) : null;
  const region = where?.region ? `${where.country}/${where.region}` : null;
  const city = where?.city ? `${region ?? `${where.country}/-`}/${where.city}` : null;
  const ua = parseUserAgent(userAgent);
  return {
    ip,
    values: {
      network: ip === null ? null : networkOf(ip),
      block: ip === null ? null : blockOf(ip),
      country: where?.country || null,
      region: clip(region),
      city: clip(city),
      browser: clip(ua.browser),
      os: clip(ua.os),
      device_type: clip(ua.deviceType),
    },
    place: where
      ? {
          lat: where.lat,
          lon: where.lon,
          accuracyKm: where.accuracyKm,
          label: city ?? region ?? where.country,
        }
      : null,
  };
}

function clip(value: string | null): string | null {
  return value === null ? null : value.slice(0, MAX_VALUE);
}
