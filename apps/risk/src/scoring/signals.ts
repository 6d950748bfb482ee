// The rules-1 signals. Each looks at one aspect of the context against the profile and either fires with
// its configured weight and a human-readable reason, or stays silent. A weight of 0 disables a signal.
// New signals (user agent, impossible travel, velocity) are added here and to RULES_SIGNALS.
import type { RiskSignal } from '@stepgate/contracts';
import type { Signal, SignalInput } from './scoring.types';

export const newDevice: Signal = ({ context, profile, policy }) => {
  if (profile.device !== null && context.deviceId !== null) return null;
  const detail =
    context.deviceId === null
      ? 'request carried no device id'
      : `device ${context.deviceId} never seen for this subject`;
  return fire('new_device', policy.weights.newDevice, detail);
};

export const unconfirmedDevice: Signal = ({ context, profile, policy }) => {
  const device = profile.device;
  if (device === null || context.deviceId === null || device.confirmedAt !== null) return null;
  return fire(
    'unconfirmed_device',
    policy.weights.unconfirmedDevice,
    `device ${context.deviceId} seen ${plural(device.seenCount, 'time')} but never confirmed by a passed challenge`,
  );
};

/** Only for a subject with history: a first-ever access has nothing to compare with (new_device covers it). */
export const newNetwork: Signal = ({ profile, observation, policy }) => {
  if (observation.network === null || profile.networks.size === 0) return null;
  if (profile.networks.has(observation.network)) return null;
  return fire(
    'new_network',
    policy.weights.newNetwork,
    `network ${observation.network} never seen for this subject`,
  );
};

/** Only when both the IP's country and at least one earlier country are known. */
export const newCountry: Signal = ({ profile, observation, policy }) => {
  if (observation.country === null || profile.countries.size === 0) return null;
  if (profile.countries.has(observation.country)) return null;
  const known = [...profile.countries].sort().join(', ');
  return fire(
    'new_country',
    policy.weights.newCountry,
    `country ${observation.country} differs from known ${known}`,
  );
};

/**
 * Failed (or locked) challenges in the window before the context's time. A passed challenge ends the streak:
 * failures before it no longer count, so a user who eventually succeeds is not penalised for typos.
 */
export const failedChallenges: Signal = ({ context, profile, policy }) => {
  const windowStart = context.time - policy.failureWindowSeconds * 1000;
  const past = profile.challenges.filter((c) => c.time <= context.time);
  const lastPass = Math.max(windowStart, ...past.filter((c) => c.result === 'passed').map((c) => c.time));
  const failures = past.filter((c) => c.result !== 'passed' && c.time > lastPass).length;
  if (failures === 0) return null;
  const { failedChallenge, failedChallengeMax } = policy.weights;
  return fire(
    'failed_challenges',
    Math.min(failures * failedChallenge, failedChallengeMax),
    `${plural(failures, 'failed challenge')} in the last ${policy.failureWindowSeconds} s`,
  );
};

export const RULES_SIGNALS: readonly Signal[] = [
  newDevice,
  unconfirmedDevice,
  newNetwork,
  newCountry,
  failedChallenges,
];

/** Runs every signal; the ones that fired, in order. */
export function evaluateSignals(signals: readonly Signal[], input: SignalInput): RiskSignal[] {
  return signals.map((signal) => signal(input)).filter((s): s is RiskSignal => s !== null);
}

const MAX_DETAIL = 500; // the contract's limit; a long list of known countries must not break publishing

function fire(name: string, weight: number, detail: string): RiskSignal | null {
  if (weight === 0) return null;
  return {
    name,
    weight,
    detail: detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail,
  };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
