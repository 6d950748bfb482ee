// Country of an IP from geoip-lite's bundled GeoLite data, kept behind a function so scoring stays pure.
import type { Provider } from '@nestjs/common';
import geoip from 'geoip-lite';
import type { GeoLookup } from '../scoring/scoring.types';

export const GEO_LOOKUP = Symbol('GEO_LOOKUP');

export const geoipCountry: GeoLookup = (ip) => geoip.lookup(ip)?.country || null;

export const geoLookupProvider: Provider = { provide: GEO_LOOKUP, useValue: geoipCountry };
