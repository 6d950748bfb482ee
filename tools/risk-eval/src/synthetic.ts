// A seeded, reproducible population for the evaluation: ordinary users with a home city, a workplace and a
// mobile network, two or three devices, browser updates, cleared cookies (a fresh device id, same browser)
// and trips abroad; API clients that never send a device id, calling from a server or two; and attackers
// after Wiefling et al. (ACM TOPS 2022): naive (IP and user agent from anywhere), vpn (an IP in the victim's
// country), targeted (the victim's country, browser and OS) and very-targeted (the victim's city and exact
// user agent), plus replay-foreign (the victim's device id and exact user agent, from another country).
// Attackers copy what the victim's client sends: against an API client, no device id. IP pools are built
// by sampling geoip-lite itself, so every address resolves where it is meant to.
import geoip from 'geoip-lite';
import { ATTACKERS, type LabelledAccess } from './access-stream';
import { rng } from '@stepgate/risk-scoring';

export interface SyntheticOptions {
  seed: number;
  users: number;
  days: number;
  /** Attack attempts per attacker model. */
  attacksPerModel: number;
  start: number;
  /** Share of the users that are API clients (no device id, a client library's user agent). */
  apiShare: number;
  /** Chance that a browser device's cookies are cleared (once) during the period. */
  cookieClearShare: number;
}

export const DEFAULT_SYNTHETIC: SyntheticOptions = {
  seed: 1,
  users: 300,
  days: 60,
  attacksPerModel: 400,
  start: Date.parse('2025-03-03T00:00:00Z'),
  apiShare: 0.1,
  cookieClearShare: 0.3,
};

type Rand = () => number;
const pick = <T>(r: Rand, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const int = (r: Rand, min: number, max: number) => min + Math.floor(r() * (max - min + 1));

/** Public IPv4 addresses bucketed by country and by city (`CC/REGION/City`), sampled from geoip-lite. */
export interface IpPools {
  countries: Map<string, string[]>;
  cities: Map<string, { country: string; ips: string[] }>;
  all: string[];
}

export function sampleIpPools(seed: number, samples = 400_000): IpPools {
  const r = rng(seed ^ 0x9e3779b9);
  const countries = new Map<string, string[]>();
  const cities = new Map<string, { country: string; ips: string[] }>();
  const all: string[] = [];
  for (let i = 0; i < samples; i++) {
    const n = Math.floor(r() * 4294967296) >>> 0;
    const ip = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    const hit = geoip.lookup(ip);
    if (!hit?.country) continue;
    all.push(ip);
    let inCountry = countries.get(hit.country);
    if (!inCountry) countries.set(hit.country, (inCountry = []));
    inCountry.push(ip);
    if (hit.city) {
      const key = `${hit.country}/${hit.region || '-'}/${hit.city}`;
      let city = cities.get(key);
      if (!city) cities.set(key, (city = { country: hit.country, ips: [] }));
      city.ips.push(ip);
    }
  }
  return { countries, cities, all };
}

// User agents as families and version ranges; a browser update moves the version, never the family.
interface UaTemplate {
  kind: 'desktop' | 'mobile' | 'tablet';
  make(version: number): string;
  versions: [number, number];
}
const UAS: UaTemplate[] = [
  {
    kind: 'desktop',
    versions: [110, 126],
    make: (v) =>
      `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36`,
  },
  {
    kind: 'desktop',
    versions: [110, 126],
    make: (v) =>
      `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36 Edg/${v}.0.0.0`,
  },
  {
    kind: 'desktop',
    versions: [115, 128],
    make: (v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`,
  },
  {
    kind: 'desktop',
    versions: [15, 17],
    make: (v) =>
      `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v}.1 Safari/605.1.15`,
  },
  {
    kind: 'desktop',
    versions: [110, 126],
    make: (v) =>
      `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36`,
  },
  {
    kind: 'desktop',
    versions: [115, 128],
    make: (v) => `Mozilla/5.0 (X11; Linux x86_64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`,
  },
  {
    kind: 'mobile',
    versions: [15, 17],
    make: (v) =>
      `Mozilla/5.0 (iPhone; CPU iPhone OS ${v}_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v}.1 Mobile/15E148 Safari/604.1`,
  },
  {
    kind: 'mobile',
    versions: [110, 126],
    make: (v) =>
      `Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Mobile Safari/537.36`,
  },
  {
    kind: 'mobile',
    versions: [20, 24],
    make: (v) =>
      `Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/${v}.0 Chrome/115.0.0.0 Mobile Safari/537.36`,
  },
  {
    kind: 'tablet',
    versions: [15, 17],
    make: (v) =>
      `Mozilla/5.0 (iPad; CPU OS ${v}_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v}.1 Mobile/15E148 Safari/604.1`,
  },
];

// Client libraries: the product is the client family, the version moves with updates.
const API_UAS: UaTemplate[] = [
  { kind: 'desktop', versions: [25, 32], make: (v) => `python-requests/2.${v}.0` },
  { kind: 'desktop', versions: [9, 12], make: (v) => `okhttp/4.${v}.0` },
  { kind: 'desktop', versions: [1, 1], make: () => 'Go-http-client/1.1' },
  { kind: 'desktop', versions: [4, 7], make: (v) => `axios/1.${v}.2` },
];

interface SimDevice {
  id: string;
  ua: UaTemplate;
  version: number;
  /** Day of the next browser update. */
  updateDay: number;
  /** Day the cookies are cleared (a fresh device id), or -1. */
  clearDay: number;
  /** Its ids so far and the day each began (a replaying attacker copies the id of the day). */
  ids: { day: number; id: string }[];
}

interface SimUser {
  subject: string;
  homeCity: string;
  country: string;
  home: string;
  work: string;
  mobile: string[];
  devices: SimDevice[];
  /** Accesses per day, on average. */
  rate: number;
  trip: { from: number; to: number; ips: string[] } | null;
  /** An API client: one device (its client library, no id), calling from its servers only. */
  api: boolean;
  /** A country the user never goes to (neither home nor its trip's), for replay-foreign attackers. */
  foreign: string;
}

const DAY = 86_400_000;

/** The whole labelled stream, in time order. */
export function syntheticStream(
  options: SyntheticOptions,
  pools: IpPools = sampleIpPools(options.seed),
): LabelledAccess[] {
  return syntheticWorld(options, pools).stream;
}

/** The stream and who its users are (home country and city), for checking the generator. */
export function syntheticWorld(
  options: SyntheticOptions,
  pools: IpPools = sampleIpPools(options.seed),
): { users: { subject: string; country: string; homeCity: string }[]; stream: LabelledAccess[] } {
  const r = rng(options.seed);
  // Home cities with a few distinct /24s, so home, work and mobile can differ.
  const homeCities = [...pools.cities.entries()].filter(([, c]) => c.ips.length >= 8).map(([k]) => k);
  const countries = [...pools.countries.keys()].filter((c) => pools.countries.get(c)!.length >= 20);
  const users: SimUser[] = [];
  for (let u = 0; u < options.users; u++) {
    const homeCity = pick(r, homeCities);
    const city = pools.cities.get(homeCity)!;
    const inCountry = pools.countries.get(city.country)!;
    const api = r() < options.apiShare;
    const deviceCount = api ? 1 : int(r, 2, 3);
    const devices: SimDevice[] = [];
    const kinds: UaTemplate['kind'][] = ['desktop', 'mobile', 'tablet'];
    for (let d = 0; d < deviceCount; d++) {
      const ua = api
        ? pick(r, API_UAS)
        : pick(
            r,
            UAS.filter((t) => t.kind === kinds[d]),
          );
      const id = `u${u}-d${d}-${Math.floor(r() * 1e9).toString(36)}`;
      devices.push({
        id,
        ids: [{ day: 0, id }],
        ua,
        version: int(r, ua.versions[0], Math.max(ua.versions[0], ua.versions[1] - 2)),
        updateDay: int(r, 5, 40),
        clearDay: !api && r() < options.cookieClearShare ? int(r, 3, options.days - 1) : -1,
      });
    }
    const abroad = pick(
      r,
      countries.filter((c) => c !== city.country),
    );
    const tripStart = !api && r() < 0.4 ? int(r, 5, options.days - 8) : -1;
    // A server's two addresses are in one /24 (picked in the home city, then renumbered within it).
    const server = pick(r, city.ips);
    users.push({
      subject: api ? `api-${u}` : `user-${u}`,
      homeCity,
      country: city.country,
      home: server,
      work: api ? server.replace(/\d+$/, (n) => String((Number(n) + 1) % 254 || 1)) : pick(r, city.ips),
      mobile: [pick(r, inCountry), pick(r, inCountry)],
      devices,
      // API clients call more often: a job every few hours.
      rate: api ? 3 + r() * 9 : 0.5 + r() * 2.5,
      api,
      foreign: pick(
        r,
        countries.filter((c) => c !== city.country && c !== abroad),
      ),
      trip:
        tripStart < 0
          ? null
          : {
              from: tripStart,
              to: tripStart + int(r, 3, 7),
              ips: [pick(r, pools.countries.get(abroad)!), pick(r, pools.countries.get(abroad)!)],
            },
    });
  }

  const stream: LabelledAccess[] = [];
  for (const user of users) {
    for (let day = 0; day < options.days; day++) {
      const count = poisson(r, user.rate);
      for (let k = 0; k < count; k++) {
        const time = options.start + day * DAY + Math.floor((7 + r() * 15) * 3_600_000);
        const onTrip = user.trip !== null && day >= user.trip.from && day <= user.trip.to;
        const weekday = day % 7 < 5;
        const device = onTrip ? pick(r, user.devices.slice(0, 2)) : pick(r, user.devices);
        if (day >= device.updateDay && device.version < device.ua.versions[1]) {
          device.version += 1; // a browser update: same family, new version
          device.updateDay = day + int(r, 20, 40);
        }
        if (device.clearDay >= 0 && day >= device.clearDay) {
          device.id = `${device.id}-c`; // cookies cleared: the browser gets a fresh id
          device.ids.push({ day, id: device.id });
          device.clearDay = -1;
        }
        let ip: string;
        if (user.api) ip = r() < 0.5 ? user.work : user.home;
        else if (onTrip) ip = pick(r, user.trip!.ips);
        else if (device.ua.kind === 'mobile' && r() < 0.5) ip = pick(r, user.mobile);
        else if (weekday && r() < 0.4) ip = user.work;
        else ip = user.home;
        const access: LabelledAccess = {
          time: new Date(time).toISOString(),
          subject: user.subject,
          ip,
          userAgent: device.ua.make(device.version),
          deviceId: user.api ? null : device.id,
          label: 'legit',
        };
        if (user.api) access.cohort = 'api';
        stream.push(access);
      }
    }
  }

  for (const attacker of ATTACKERS) {
    for (let a = 0; a < options.attacksPerModel; a++) {
      const victim = pick(r, users);
      const day = int(r, 1, options.days - 1);
      const time = options.start + day * DAY + Math.floor(r() * DAY);
      const victimDevice = pick(r, victim.devices);
      let ip: string;
      let userAgent: string;
      switch (attacker) {
        case 'naive':
          ip = pick(r, pools.all);
          userAgent = randomUa(r);
          break;
        case 'vpn':
          ip = pick(r, pools.countries.get(victim.country)!);
          userAgent = randomUa(r);
          break;
        case 'targeted': {
          ip = pick(r, pools.countries.get(victim.country)!);
          // The victim's browser and OS, at a version the attacker guessed.
          userAgent = victimDevice.ua.make(int(r, victimDevice.ua.versions[0], victimDevice.ua.versions[1]));
          break;
        }
        case 'very-targeted': {
          // The victim's city, not the victim's own connection.
          const own = new Set([victim.home, victim.work]);
          ip = pick(
            r,
            pools.cities.get(victim.homeCity)!.ips.filter((candidate) => !own.has(candidate)),
          );
          userAgent = victimDevice.ua.make(victimDevice.version);
          break;
        }
        case 'replay-foreign':
          // Everything the victim's client sends, copied, from another country.
          ip = pick(r, pools.countries.get(victim.foreign)!);
          userAgent = victimDevice.ua.make(victimDevice.version);
          break;
      }
      // Half come with a device id of their own (no cookie), half replay the victim's (a stolen cookie);
      // replay-foreign always replays. An API client sends none: there is none to copy.
      const replay = attacker === 'replay-foreign' || r() < 0.5;
      const idThen = victimDevice.ids.filter((x) => x.day <= day).pop()!.id;
      const deviceId = victim.api ? null : replay ? idThen : `attacker-${attacker}-${a}`;
      stream.push({
        time: new Date(time).toISOString(),
        subject: victim.subject,
        ip,
        userAgent,
        deviceId,
        label: 'attack',
        attacker,
      });
    }
  }
  // Stable: accesses at the same instant keep their generation order.
  const ordered = stream
    .map((access, i) => ({ access, i }))
    .sort((a, b) => Date.parse(a.access.time) - Date.parse(b.access.time) || a.i - b.i)
    .map(({ access }) => access);
  // The first access (in time) with a fresh id after a cookie clear is that cohort's.
  const used = new Set<string>();
  for (const access of ordered) {
    if (access.label !== 'legit' || access.deviceId === null || used.has(access.deviceId)) continue;
    used.add(access.deviceId);
    if (access.deviceId.endsWith('-c')) access.cohort = 'cookie-clear';
  }
  return {
    users: users.map((u) => ({ subject: u.subject, country: u.country, homeCity: u.homeCity })),
    stream: ordered,
  };
}

function randomUa(r: Rand): string {
  const ua = pick(r, UAS);
  return ua.make(int(r, ua.versions[0], ua.versions[1]));
}

function poisson(r: Rand, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= r();
  } while (p > limit);
  return k - 1;
}
