// Why a person is asked to step up, in their words: drawn from the risk signals the assessment reported (the
// snapshot kept on the challenge). Known signals get plain phrases; unknown ones fall back to risk's own detail.
import type { RiskSignal } from '@stepgate/contracts';
import type { RiskSnapshot } from './challenge.entity';

export interface Explanation {
  /** One short line, e.g. "New device in a new country (FR)". */
  summary: string;
  /** One sentence per signal that raised the score, strongest first. */
  reasons: string[];
}

const COUNTRY = /^country ([A-Z]{2}) /;
const FAILURES = /^(\d+) failed challenges? /;

export function explainRisk(risk: RiskSnapshot): Explanation {
  const signals = [...risk.signals].sort((a, b) => b.weight - a.weight);
  const has = (name: string) => signals.find((s) => s.name === name);
  const country = has('new_country');
  const countryCode = country ? COUNTRY.exec(country.detail)?.[1] : undefined;

  const device = has('new_device') ? 'New device' : has('unconfirmed_device') ? 'Unconfirmed device' : null;
  const place = country
    ? `a new country${countryCode ? ` (${countryCode})` : ''}`
    : has('new_network')
      ? 'a new network'
      : null;
  let summary: string;
  if (device && place) summary = `${device} ${place.startsWith('a new country') ? 'in' : 'on'} ${place}`;
  else if (device) summary = device;
  else if (place) summary = `Sign-in from ${place}`;
  else if (has('failed_challenges')) summary = 'Recent failed attempts on your account';
  else summary = 'This action always needs a recent confirmation';

  // Only what raised the score is a reason; signals that lowered it or weighed nothing are not.
  return { summary, reasons: signals.filter((s) => s.weight > 0).map((s) => reasonOf(s)) };
}

function reasonOf(signal: RiskSignal): string {
  switch (signal.name) {
    case 'new_device':
      return 'You have not used this device with your account before.';
    case 'unconfirmed_device':
      return 'This device has not been confirmed yet.';
    case 'new_network':
      return 'You are connecting from a network you have not used before.';
    case 'new_country': {
      const code = COUNTRY.exec(signal.detail)?.[1];
      return code
        ? `You are connecting from a country you have not used before (${code}).`
        : 'You are connecting from a country you have not used before.';
    }
    case 'failed_challenges': {
      const n = FAILURES.exec(signal.detail)?.[1];
      return n
        ? `There were ${n} failed confirmations recently.`
        : 'There were failed confirmations recently.';
    }
    default:
      return capitalise(signal.detail || signal.name.replace(/_/g, ' '));
  }
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
