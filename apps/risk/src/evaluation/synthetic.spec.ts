import geoip from 'geoip-lite';
import { describe, expect, it } from 'vitest';
import { parseAccessStream } from './access-stream';
import { rng } from './rng';
import { sampleIpPools, syntheticStream, syntheticWorld } from './synthetic';

const OPTIONS = {
  seed: 7,
  users: 20,
  days: 15,
  attacksPerModel: 10,
  start: Date.parse('2025-03-03T00:00:00Z'),
};
const pools = sampleIpPools(OPTIONS.seed, 100_000);

describe('synthetic population', () => {
  it('is reproducible from its seed', () => {
    expect(rng(3)()).toBe(rng(3)());
    expect(syntheticStream(OPTIONS, pools)).toEqual(syntheticStream(OPTIONS, pools));
    expect(syntheticStream({ ...OPTIONS, seed: 8 }, pools)).not.toEqual(syntheticStream(OPTIONS, pools));
  });

  it('buckets real addresses where geoip-lite places them', () => {
    for (const [country, ips] of [...pools.countries].slice(0, 10)) {
      for (const ip of ips.slice(0, 5)) expect(geoip.lookup(ip)?.country).toBe(country);
    }
    for (const [key, city] of [...pools.cities].slice(0, 10)) {
      const hit = geoip.lookup(city.ips[0]!)!;
      expect(`${hit.country}/${hit.region || '-'}/${hit.city}`).toBe(key);
    }
  });

  it('is a valid, time-ordered stream with every attacker model', () => {
    const stream = syntheticStream(OPTIONS, pools);
    const times = stream.map((a) => Date.parse(a.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(parseAccessStream(stream.map((a) => JSON.stringify(a)).join('\n'), 'synthetic')).toHaveLength(
      stream.length,
    );
    const attacks = stream.filter((a) => a.label === 'attack');
    expect(attacks).toHaveLength(40);
    expect(new Set(attacks.map((a) => a.attacker))).toEqual(
      new Set(['naive', 'vpn', 'targeted', 'very-targeted']),
    );
  });

  it('places vpn and targeted attackers in the victim country, very-targeted ones in the victim city', () => {
    const { users, stream } = syntheticWorld(OPTIONS, pools);
    const user = new Map(users.map((u) => [u.subject, u]));
    const where = (ip: string) => {
      const hit = geoip.lookup(ip)!;
      return { country: hit.country, city: `${hit.country}/${hit.region || '-'}/${hit.city}` };
    };
    for (const a of stream.filter((x) => x.attacker === 'vpn' || x.attacker === 'targeted')) {
      expect(where(a.ip).country).toBe(user.get(a.subject)!.country);
    }
    for (const a of stream.filter((x) => x.attacker === 'very-targeted')) {
      expect(where(a.ip).city).toBe(user.get(a.subject)!.homeCity);
    }
    // Every legitimate subject's home is a real city the geo data knows.
    for (const u of users) expect(pools.cities.get(u.homeCity)?.country).toBe(u.country);
  });
});
