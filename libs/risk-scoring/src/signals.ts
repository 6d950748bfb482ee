// The rule signals. Each looks at one aspect of the context against the profile and either fires with its
// configured weight and a reason a human can read, or stays silent. A weight of 0 disables a signal. The
// likelihood model (likelihood.ts) adds its own signals beside these.
import type { DeviceSource, RiskSignal } from '@stepgate/contracts';
import { minimumTravelKm } from './geo';
import { isNone } from './observation';
import type { Signal, SignalInput } from './scoring.types';

/**
 * A device id never seen for the subject, or none at all. A subject that never sends one (no device of its
 * own, only history without one: an API client) is judged by its history instead (`deviceContextChanged`)
 * once it has any; a subject with devices that suddenly sends none is new, or stripping the id would pass.
 */
export const newDevice: Signal = ({ context, profile, policy }) => {
  if (context.deviceId !== null) {
    if (profile.device !== null) return null;
    return fire(
      'new_device',
      policy.weights.newDevice,
      `device ${deviceName(context)} never seen for this subject`,
    );
  }
  if (standsInForDevice(profile)) return null;
  const detail =
    profile.deviceCount > 0
      ? `request carried no device id; the subject's accesses carry one (${plural(profile.deviceCount, 'device')})`
      : 'request carried no device id, and the subject has no history without one';
  return fire('new_device', policy.weights.newDevice, detail);
};

/**
 * The subject never sent a device id its history knows (no device: none was ever learned or confirmed) and
 * has history: then that history is what a device-less call is judged against, as a device's would be.
 */
export function standsInForDevice(profile: SignalInput['profile']): boolean {
  return profile.deviceCount === 0 && profile.historySize > 0;
}

export const unconfirmedDevice: Signal = ({ context, profile, policy }) => {
  const device = profile.device;
  if (device === null || context.deviceId === null || device.confirmedAt !== null) return null;
  return fire(
    'unconfirmed_device',
    policy.weights.unconfirmedDevice,
    `device ${deviceName(context)} seen ${plural(device.seenCount, 'time')} but never confirmed by a passed challenge`,
  );
};

/**
 * A known device id is only a cookie: one that shows up with another browser or OS family than it had (none
 * at all included: a missing family is a change, not a wildcard), or from a network the subject never used
 * (neither its /24 nor its /16), may have been copied. Without this, a replayed device id would carry a
 * confirmed device's trust anywhere. A device never seen with a family says nothing about one (the model
 * weighs its appearance). For a subject that never sends a device id, its history stands in for the device:
 * a client (browser and OS family) or a network it never called from is the change.
 */
export const deviceContextChanged: Signal = ({ context, profile, observation, policy }) => {
  if (context.deviceId === null) return devicelessContextChanged({ context, profile, observation, policy });
  const device = profile.device;
  if (device === null) return null;
  const reasons: string[] = [];
  const { browser, os } = observation.values;
  const changed = (was: string | null, now: string | null) => was !== null && now !== null && was !== now;
  if (changed(device.browser, browser) || changed(device.os, os)) {
    reasons.push(`was ${families(device.browser, device.os)}, now ${families(browser, os)}`);
  }
  const outside = outsideNetworks(profile, observation);
  if (outside !== null) reasons.push(outside);
  if (reasons.length === 0) return null;
  return fire(
    'device_context_changed',
    policy.weights.deviceContextChanged,
    `known device ${deviceName(context)} ${reasons.join('; ')}`,
  );
};

function devicelessContextChanged({ profile, observation, policy }: SignalInput): RiskSignal | null {
  if (!standsInForDevice(profile)) return null; // new_device covers it
  const reasons: string[] = [];
  const { browser, os, country } = observation.values;
  const unseen = (feature: 'browser' | 'os', value: string | null) =>
    value !== null && !profile.features[feature].has(value);
  if (unseen('browser', browser) || unseen('os', os)) {
    reasons.push(
      `client ${families(browser, os)}, never seen for the subject (usual: ${top(profile.features.browser)})`,
    );
  }
  const outside = outsideNetworks(profile, observation, country);
  if (outside !== null) reasons.push(outside);
  if (reasons.length === 0) return null;
  return fire(
    'device_context_changed',
    policy.weights.deviceContextChanged,
    `no device id (the subject never sends one): ${reasons.join('; ')}`,
  );
}

/** The network is neither a /24 nor in a /16 the subject used (when it has used any). */
function outsideNetworks(
  profile: SignalInput['profile'],
  observation: SignalInput['observation'],
  country: string | null = null,
): string | null {
  const { network, block } = observation.values;
  const networks = profile.features.network;
  if (network === null || networks.size === 0 || networks.has(network)) return null;
  if (block !== null && profile.features.block.has(block)) return null;
  const where = country === null ? '' : ` (${country})`;
  return `from ${network}${where}, outside every network the subject used (${top(networks)})`;
}

/** `Chrome on Windows`, `Chrome`, `no browser on Windows`, `no browser`: what the user agent told. */
function families(browser: string | null, os: string | null): string {
  const told = (v: string | null) => (v === null || isNone(v) ? null : v);
  const b = told(browser);
  const o = told(os);
  if (o === null) return b ?? 'no browser';
  return `${b ?? 'no browser'} on ${o}`;
}

const SOURCES: Record<DeviceSource, string> = {
  dpop: 'DPoP key',
  header: 'X-Device-Id header',
  cookie: 'device cookie',
};

/** The device id and where it came from: a DPoP key's cannot be copied, a header's or cookie's can. */
function deviceName(context: SignalInput['context']): string {
  const source = context.deviceSource;
  return source === null ? `${context.deviceId}` : `${context.deviceId} (${SOURCES[source]})`;
}

/** Failed challenges since the last pass, in the window: a passed challenge forgives the typos before it. */
export const failedChallenges: Signal = ({ context, profile, policy }) => {
  const failures = sinceLastPass(context.time, profile, policy).filter((c) => c.result === 'failed').length;
  if (failures === 0) return null;
  const { failedChallenge, failedChallengeMax } = policy.weights;
  return fire(
    'failed_challenges',
    Math.min(failures * failedChallenge, failedChallengeMax),
    `${plural(failures, 'failed challenge')} in the last ${policy.failureWindowSeconds} s`,
  );
};

/** A challenge locked out (too many wrong codes) since the last pass, in the window. */
export const lockout: Signal = ({ context, profile, policy }) => {
  const locks = sinceLastPass(context.time, profile, policy).filter((c) => c.result === 'locked').length;
  if (locks === 0) return null;
  return fire(
    'challenge_lockout',
    policy.weights.lockout,
    `${plural(locks, 'challenge')} locked out in the last ${policy.failureWindowSeconds} s`,
  );
};

export const badIp: Signal = ({ observation, policy }) => {
  const range = observation.ip === null ? null : policy.lists.badIps.match(observation.ip);
  if (range === null) return null;
  return fire('bad_ip', policy.weights.badIp, `client IP ${observation.ip} is in bad-IP range ${range}`);
};

export const trustedNetwork: Signal = ({ observation, policy }) => {
  const range = observation.ip === null ? null : policy.lists.trustedNetworks.match(observation.ip);
  if (range === null) return null;
  return fire(
    'trusted_network',
    policy.weights.trustedNetwork,
    `client IP ${observation.ip} is in trusted network ${range}`,
  );
};

/**
 * From the last place the subject was trusted at (its latest allowed access with a location) to here, by
 * event time: the least distance that could have been covered (less both accuracy radii) over the time
 * between them. Not on a trusted network, whose egress may be anywhere, and not to a place the subject has
 * already been allowed from: a phone whose carrier egresses in another city flips between two known places
 * all day, and that is no journey.
 */
export const impossibleTravel: Signal = ({ context, profile, observation, policy }) => {
  const from = profile.lastTrusted;
  const to = observation.place;
  if (from === null || to === null) return null;
  if (observation.ip !== null && policy.lists.trustedNetworks.match(observation.ip) !== null) return null;
  if (placeKnown(profile, observation)) return null;
  const km = minimumTravelKm(from, to);
  if (km < policy.travel.minDistanceKm) return null;
  const hours = Math.abs(context.time - from.time) / 3_600_000;
  const speed = hours === 0 ? Infinity : km / hours;
  if (speed <= policy.travel.maxSpeedKmh) return null;
  const pace = Number.isFinite(speed) ? `${Math.round(speed)} km/h` : 'no time at all';
  return fire(
    'impossible_travel',
    policy.weights.impossibleTravel,
    `${from.label} → ${to.label}: at least ${Math.round(km)} km (±${from.accuracyKm}/±${to.accuracyKm} km ` +
      `taken off) in ${formatHours(hours)}, ${pace} > ${policy.travel.maxSpeedKmh} km/h`,
  );
};

/** Requests of the subject in the window, this one included. */
export const velocityRequests: Signal = (input) => {
  const { windowSeconds, max } = input.policy.velocity.requests;
  const count = inWindow(input, windowSeconds).length + 1;
  if (count <= max) return null;
  return fire(
    'velocity_requests',
    input.policy.weights.velocityRequests,
    `${count} requests in ${windowSeconds} s (limit ${max})`,
  );
};

export const velocityIps: Signal = (input) => {
  const { windowSeconds, max } = input.policy.velocity.ips;
  const ips = new Set(inWindow(input, windowSeconds).map((a) => a.ip));
  if (input.observation.ip !== null) ips.add(input.observation.ip);
  ips.delete(null);
  if (ips.size <= max) return null;
  return fire(
    'velocity_ips',
    input.policy.weights.velocityIps,
    `${ips.size} distinct IPs in ${windowSeconds} s (limit ${max})`,
  );
};

export const velocityDevices: Signal = (input) => {
  const { windowSeconds, max } = input.policy.velocity.devices;
  const devices = new Set(inWindow(input, windowSeconds).map((a) => a.deviceId));
  devices.add(input.context.deviceId);
  devices.delete(null);
  if (devices.size <= max) return null;
  return fire(
    'velocity_devices',
    input.policy.weights.velocityDevices,
    `${devices.size} distinct devices in ${windowSeconds} s (limit ${max})`,
  );
};

export const RULE_SIGNALS: readonly Signal[] = [
  newDevice,
  unconfirmedDevice,
  deviceContextChanged,
  badIp,
  trustedNetwork,
  impossibleTravel,
  velocityRequests,
  velocityIps,
  velocityDevices,
  failedChallenges,
  lockout,
];

/** Runs every signal; the ones that fired, in order. */
export function evaluateSignals(signals: readonly Signal[], input: SignalInput): RiskSignal[] {
  return signals.map((signal) => signal(input)).filter((s): s is RiskSignal => s !== null);
}

/** The longest velocity window: how much access history scoring needs. */
export function longestVelocityWindowMs(policy: SignalInput['policy']): number {
  const { requests, ips, devices } = policy.velocity;
  return Math.max(requests.windowSeconds, ips.windowSeconds, devices.windowSeconds) * 1000;
}

/** The observed place at its finest known level (city, else region, else country) is in the subject's history. */
function placeKnown(profile: SignalInput['profile'], observation: SignalInput['observation']): boolean {
  const known = (v: string | null) => (v === null || isNone(v) ? null : v);
  const city = known(observation.values.city);
  const region = known(observation.values.region);
  const country = known(observation.values.country);
  if (city !== null) return profile.features.city.has(city);
  if (region !== null) return profile.features.region.has(region);
  return country !== null && profile.features.country.has(country);
}

function inWindow({ context, profile }: SignalInput, windowSeconds: number) {
  const start = context.time - windowSeconds * 1000;
  return profile.recent.filter((a) => a.time > start && a.time <= context.time);
}

function sinceLastPass(time: number, profile: SignalInput['profile'], policy: SignalInput['policy']) {
  const windowStart = time - policy.failureWindowSeconds * 1000;
  const past = profile.challenges.filter((c) => c.time <= time);
  const lastPass = Math.max(windowStart, ...past.filter((c) => c.result === 'passed').map((c) => c.time));
  return past.filter((c) => c.result !== 'passed' && c.time > lastPass);
}

const MAX_DETAIL = 500; // the contract's limit; a long list of known values must not break publishing

export function fire(name: string, weight: number, detail: string): RiskSignal | null {
  if (weight === 0) return null;
  return signal(name, weight, detail);
}

/** A signal even at weight 0 (context for a reader, never a reason: the gateway shows weights > 0). */
export function signal(name: string, weight: number, detail: string): RiskSignal {
  return {
    name,
    weight,
    detail: detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail,
  };
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The most used values of a feature, e.g. `GB ×40, DE ×2`; at most three, the rest counted. */
export function top(counts: ReadonlyMap<string, number>, limit = 3): string {
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, limit).map(([v, n]) => `${v} ×${n}`);
  if (sorted.length > limit) shown.push(`${sorted.length - limit} more`);
  return shown.join(', ') || 'none';
}

function formatHours(hours: number): string {
  return hours < 1 ? `${Math.round(hours * 60)} min` : `${hours.toFixed(1)} h`;
}
