import geoip from 'geoip-lite';
import { describe, expect, it } from 'vitest';
import { parseAccessStream } from './access-stream';
import { rng } from '@stepgate/risk-scoring';
import { sampleIpPools, syntheticStream, syntheticWorld } from './synthetic';

const OPTIONS = {
  seed: 7,
  users: 20,
  days: 15,
  attacksPerModel: 10,
  start: Date.parse('2025-03-03T00:00:00Z'),
  apiShare: 0.2,
  cookieClearShare: 0.5,
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
    expect(attacks).toHaveLength(50);
    expect(new Set(attacks.map((a) => a.attacker))).toEqual(
      new Set(['naive', 'vpn', 'targeted', 'very-targeted', 'replay-foreign']),
    );
  });

  it('has API clients that never send a device id, and browsers whose cookies get cleared', () => {
    const { users, stream } = syntheticWorld(OPTIONS, pools);
    const legit = stream.filter((a) => a.label === 'legit');
    const api = legit.filter((a) => a.cohort === 'api');
    expect(api.length).toBeGreaterThan(0);
    expect(api.every((a) => a.deviceId === null && a.subject.startsWith('api-'))).toBe(true);
    // From their servers only: one /24 per client.
    for (const subject of new Set(api.map((a) => a.subject))) {
      const nets = new Set(api.filter((a) => a.subject === subject).map((a) => a.ip.replace(/\.\d+$/, '')));
      expect(nets.size).toBe(1);
    }
    const clears = legit.filter((a) => a.cohort === 'cookie-clear');
    expect(clears.length).toBeGreaterThan(0);
    for (const c of clears) {
      // The same browser as before, a device id never used before.
      const before = legit.filter((a) => a.subject === c.subject && a.time < c.time);
      expect(before.some((a) => a.deviceId === c.deviceId)).toBe(false);
      expect(before.some((a) => a.deviceId === c.deviceId!.replace(/-c$/, ''))).toBe(true);
    }
    expect(users.length).toBe(OPTIONS.users);
  });

  it('replays the victim device id and user agent from another country; copies no id from an API client', () => {
    const { stream } = syntheticWorld(OPTIONS, pools);
    const replays = stream.filter((a) => a.attacker === 'replay-foreign');
    for (const a of replays) {
      const own = stream.filter((x) => x.subject === a.subject && x.label === 'legit');
      // A country the victim never called from (home or trip).
      const visited = new Set(own.map((x) => geoip.lookup(x.ip)!.country));
      expect(visited.has(geoip.lookup(a.ip)!.country)).toBe(false);
      expect(own.some((x) => x.userAgent === a.userAgent)).toBe(true);
      if (a.subject.startsWith('api-')) expect(a.deviceId).toBeNull();
      else expect(own.some((x) => x.deviceId === a.deviceId)).toBe(true);
    }
    const onApi = stream.filter((a) => a.label === 'attack' && a.subject.startsWith('api-'));
    expect(onApi.every((a) => a.deviceId === null)).toBe(true);
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
