// Geo of an IP from geoip-lite's bundled GeoLite data (city level), kept behind a function so scoring stays pure.
import type { Provider } from '@nestjs/common';
import geoip from 'geoip-lite';
import type { GeoInfo, GeoLookup } from '@stepgate/risk-scoring';

export const GEO_LOOKUP = Symbol('GEO_LOOKUP');

export const geoipLookup: GeoLookup = (ip) => {
  const hit = geoip.lookup(ip);
  if (!hit?.country) return null;
  const [lat, lon] = hit.ll;
  const info: GeoInfo = {
    country: hit.country,
    region: hit.region || null,
    city: hit.city || null,
    lat,
    lon,
    // `area` is the accuracy radius in km; a country-only answer has a wide one.
    accuracyKm: hit.area || 1000,
  };
  return info;
};

export const geoLookupProvider: Provider = { provide: GEO_LOOKUP, useValue: geoipLookup };
