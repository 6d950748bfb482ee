import { describe, expect, it, vi } from 'vitest';
import { isNone, NONE, observe } from './observation';
import { CHROME_WINDOWS, SAFARI_IPHONE, tableGeo } from './scoring.fixtures';

describe(observe.name, () => {
  const geo = vi.fn(tableGeo);

  it('gives the network, block, place and user-agent families of a public address', () => {
    expect(observe('81.2.69.142', CHROME_WINDOWS, geo)).toEqual({
      ip: '81.2.69.142',
      values: {
        network: '81.2.69.0/24',
        block: '81.2.0.0/16',
        country: 'GB',
        region: 'GB/ENG',
        city: 'GB/ENG/London',
        browser: 'Chrome',
        os: 'Windows',
        device_type: 'desktop',
      },
      place: { lat: 51.5, lon: -0.12, accuracyKm: 20, label: 'GB/ENG/London' },
    });
  });

  it('never asks the geo lookup about loopback or private addresses: they are in no country', () => {
    geo.mockClear();
    expect(observe('127.0.0.1', null, geo)).toMatchObject({
      values: { network: '127.0.0.0/24', block: '127.0.0.0/16', country: NONE, region: NONE, city: NONE },
      place: null,
    });
    expect(observe('192.168.1.20', null, geo).values.country).toBe(NONE);
    expect(geo).not.toHaveBeenCalled();
  });

  it('gives a value the address or agent did not tell its own value, under its known parents', () => {
    const countryOnly = () => ({ country: 'US', region: null, city: null, lat: 0, lon: 0, accuracyKm: 500 });
    expect(observe('8.8.8.8', '', countryOnly).values).toMatchObject({
      country: 'US',
      region: `US/${NONE}`,
      city: `US/-/${NONE}`,
      browser: NONE,
      os: NONE,
      device_type: NONE,
    });
    expect(observe('8.8.8.8', 'python-requests/2.31.0', geo).values).toMatchObject({
      browser: 'python-requests',
      os: NONE,
      device_type: NONE,
    });
    expect(isNone(`US/-/${NONE}`) && isNone(NONE) && !isNone('US/-/London')).toBe(true);
  });

  it('looks up IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(observe('::ffff:81.2.69.142', null, geo)).toMatchObject({
      ip: '81.2.69.142',
      values: { network: '81.2.69.0/24', country: 'GB' },
    });
  });

  it('keeps a city apart from a namesake elsewhere by its country and region', () => {
    const geoWithoutRegion = () => ({
      country: 'US',
      region: null,
      city: 'London',
      lat: 0,
      lon: 0,
      accuracyKm: 5,
    });
    expect(observe('8.8.8.8', null, geoWithoutRegion).values).toMatchObject({
      region: `US/${NONE}`,
      city: 'US/-/London',
    });
  });

  it('reads a phone user agent as mobile', () => {
    expect(observe(null, SAFARI_IPHONE, geo).values).toMatchObject({
      browser: 'Mobile Safari',
      os: 'iOS',
      device_type: 'mobile',
    });
  });

  it('has nothing to say without an IP or a user agent in hand (not the same as an empty one)', () => {
    expect(observe(null, null, geo)).toEqual({
      ip: null,
      values: {
        network: null,
        block: null,
        country: null,
        region: null,
        city: null,
        browser: null,
        os: null,
        device_type: null,
      },
      place: null,
    });
  });
});
