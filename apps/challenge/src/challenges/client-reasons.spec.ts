import { clientReason, clientReasons } from '@stepgate/contracts';
import { describe, expect, it } from 'vitest';
import { explainToClient } from './client-reasons';

const signal = (name: string, weight: number, detail = '') => ({ name, weight, detail });

// Every signal risk scores today (libs/risk-scoring: RULE_KNOBS, model_ and rare_ per feature).
const FEATURES = ['network', 'block', 'country', 'region', 'city', 'browser', 'os', 'device_type'];
const RISK_SIGNALS = [
  'new_device',
  'unconfirmed_device',
  'device_context_changed',
  'failed_challenges',
  'challenge_lockout',
  'bad_ip',
  'impossible_travel',
  'velocity_requests',
  'velocity_ips',
  'velocity_devices',
  ...FEATURES.map((f) => `model_${f}`),
  ...FEATURES.map((f) => `rare_${f}`),
];

describe(clientReasons.name, () => {
  it('gives plain reasons for what raised the score, strongest first, each once', () => {
    expect(
      clientReasons([
        signal('model_city', 4),
        signal('unconfirmed_device', 30),
        signal('model_network', 8),
        signal('model_block', 6),
        signal('trusted_network', -10),
        signal('history', 0),
        signal('model_browser', 0),
      ]),
    ).toEqual(['a device not yet confirmed by a step-up', 'an unusual network', 'an unusual place']);
  });

  it('words every signal risk scores without a profile value', () => {
    expect(clientReason('new_device')).toBe('a device not seen before for this account');
    expect(clientReason('impossible_travel')).toBe('an implausible change of place');
    expect(clientReason('failed_challenges')).toBe('recent failed step-up attempts');
    expect(clientReason('model_browser')).toBe('an unusual browser');
    expect(clientReason('rare_os')).toBe('an unusual operating system');
    expect(clientReason('model_device_type')).toBe('an unusual kind of device');
    // Names older challenges were opened with.
    expect(clientReason('new_network')).toBe('an unusual network');
    expect(clientReason('new_country')).toBe('an unusual place');
  });

  it('never carries anything but its fixed phrases, whatever risk put in a name or detail', () => {
    expect(clientReason('something_new')).toBe('an unusual context');
    expect(clientReason('model_81.2.69.0/24')).toBe('an unusual context');
    expect(clientReason('rare_Berlin')).toBe('an unusual context');
    const details = [
      'client IP 81.2.69.160 is in bad-IP range 81.2.69.0/24',
      'usual: DE/BE/Berlin ×12; now FR/IDF/Paris',
      'Firefox 128 on Windows, usual: Chrome on macOS',
      '3 failed challenges in the last 900 s',
      'moved 900 km in 5 min',
    ];
    const said = explainToClient([
      signal('bad_ip', 40, details[0]),
      signal('model_city', 10, details[1]),
      signal('model_browser', 5, details[2]),
      signal('failed_challenges', 20, details[3]),
      signal('impossible_travel', 30, details[4]),
      signal('odd_<script>', 1, '<img src=x>'),
    ]);
    const text = JSON.stringify(said);
    for (const leak of [
      '81.2',
      'Berlin',
      'Paris',
      'DE',
      'Firefox',
      'Chrome',
      'Windows',
      'macOS',
      '900',
      '3 ',
      '<',
    ])
      expect(text, leak).not.toContain(leak);
  });

  it('has a phrase of its own for every signal risk scores', () => {
    for (const name of RISK_SIGNALS) expect(clientReason(name), name).not.toBe('an unusual context');
  });
});

describe(explainToClient.name, () => {
  it('sums up and lists the reasons as sentences', () => {
    expect(
      explainToClient([signal('new_device', 50, 'device laptop-2'), signal('model_country', 20, 'FR')]),
    ).toEqual({
      summary: 'This request is not like the ones we know from your account',
      reasons: ['A device not seen before for this account.', 'An unusual place.'],
    });
  });

  it('says a route always asks when nothing raised the score', () => {
    expect(explainToClient([signal('trusted_network', -20, 'office')])).toEqual({
      summary: 'This action always needs a recent confirmation',
      reasons: [],
    });
  });
});
