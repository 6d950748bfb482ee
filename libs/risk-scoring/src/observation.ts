// Turns a context's client IP and user agent into the feature values and place that scoring and learning use.
import { blockOf, formatIp, isGlobalAddress, networkOf, parseIp } from '@stepgate/net';
import type { GeoLookup, Observation } from './scoring.types';
import { parseUserAgent } from './user-agent';

const MAX_VALUE = 64; // the sightings table's value column

/**
 * The value of a feature the context did not tell: an empty or unparseable user agent has no browser, a
 * private address no country. Missing is information, not a wildcard: it is scored and learned as a value of
 * its own (region and city under the parents that are known: `US/(none)`, `US/-/(none)`), so a subject that
 * always sent a browser and now sends none meets a value new to it, and one that never sends any is familiar
 * with it. Parentheses appear in no browser family or place name.
 */
export const NONE = '(none)';

/** The value says the context did not tell (at its own level: `GB/ENG/(none)` knows the region). */
export const isNone = (value: string): boolean => value === NONE || value.endsWith(`/${NONE}`);

/**
 * The network always; geography for a public address (the geo data's, a missing part as NONE; a private or
 * loopback address is in no country), the user agent's families (a missing one as NONE). Region and city
 * keys carry their parents (`GB/ENG/London`), so two cities of one name in different countries stay apart.
 * A null IP or user agent is one not in hand (scoring after a challenge): its features stay null, unobserved.
 */
export function observe(clientIp: string | null, userAgent: string | null, geo: GeoLookup): Observation {
  const parsed = clientIp === null ? null : parseIp(clientIp);
  const ip = parsed ? formatIp(parsed) : null;
  const where = ip !== null && isGlobalAddress(ip) ? geo(ip) : null;
  const country = where?.country || null;
  const region = country && where?.region ? `${country}/${where.region}` : null;
  const city = country && where?.city ? `${region ?? `${country}/-`}/${where.city}` : null;
  const ua = userAgent === null ? null : parseUserAgent(userAgent);
  const located = (value: string | null, parent: string | null) =>
    ip === null ? null : (value ?? (parent === null ? NONE : `${parent}/${NONE}`));
  const told = (value: string | null) => (ua === null ? null : (value ?? NONE));
  return {
    ip,
    values: {
      network: ip === null ? null : networkOf(ip),
      block: ip === null ? null : blockOf(ip),
      country: located(country, null),
      region: clip(located(region, country)),
      city: clip(located(city, country === null ? null : (region ?? `${country}/-`))),
      browser: clip(told(ua?.browser ?? null)),
      os: clip(told(ua?.os ?? null)),
      device_type: clip(told(ua?.deviceType ?? null)),
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

/** Keeps a long value within the column; a clipped NONE suffix would stop being one, so the end is kept. */
function clip(value: string | null): string | null {
  if (value === null || value.length <= MAX_VALUE) return value;
  return isNone(value) ? `${value.slice(0, MAX_VALUE - NONE.length - 1)}/${NONE}` : value.slice(0, MAX_VALUE);
}
