// What a client is told about why risk asked for more: plain reasons from the signal names, never the
// signals' details. A detail explains a score with the account's profile ("usual: 81.2.69.0/24 ×10", the
// usual city and browser), which is a recipe for whoever holds a stolen token; the details stay in the
// console, the admin API and the upstream's assertion. Data, not logic: shared by the gateway's answers and
// the challenge pages.
import type { RiskSignal } from '../common';

const BY_NAME: Readonly<Record<string, string>> = {
  new_device: 'a device not seen before for this account',
  unconfirmed_device: 'a device not yet confirmed by a step-up',
  device_context_changed: 'a device in an unusual context',
  failed_challenges: 'recent failed step-up attempts',
  challenge_lockout: 'a recent step-up lockout',
  bad_ip: 'a network with a poor reputation',
  impossible_travel: 'an implausible change of place',
  velocity_requests: 'unusually many requests',
  velocity_ips: 'unusually many networks',
  velocity_devices: 'unusually many devices',
  risk_unavailable: 'the risk service did not answer in time',
  // Names of earlier risk versions, still in the snapshots of challenges opened before.
  new_network: 'an unusual network',
  new_country: 'an unusual place',
};

const BY_FEATURE: Readonly<Record<string, string>> = {
  network: 'an unusual network',
  block: 'an unusual network',
  asn: 'an unusual network',
  country: 'an unusual place',
  region: 'an unusual place',
  city: 'an unusual place',
  browser: 'an unusual browser',
  os: 'an unusual operating system',
  device_type: 'an unusual kind of device',
};

const FALLBACK = 'an unusual context';

/** The plain reason for one signal name. */
export function clientReason(name: string): string {
  const feature = /^(?:model|rare)_(.+)$/.exec(name)?.[1];
  return (feature === undefined ? BY_NAME[name] : BY_FEATURE[feature]) ?? FALLBACK;
}

/** The plain reasons for what raised a score, strongest first, each once. */
export function clientReasons(signals: readonly Pick<RiskSignal, 'name' | 'weight'>[]): string[] {
  const raised = signals.filter((s) => s.weight > 0).sort((a, b) => b.weight - a.weight);
  return [...new Set(raised.map((s) => clientReason(s.name)))];
}
