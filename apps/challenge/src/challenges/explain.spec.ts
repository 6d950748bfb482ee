import { describe, expect, it } from 'vitest';
import { explainRisk } from './explain';

const signal = (name: string, weight: number, detail: string) => ({ name, weight, detail });

describe(explainRisk.name, () => {
  it('says "new device in a new country" from the signals risk reported', () => {
    const why = explainRisk({
      score: 70,
      level: 'high',
      signals: [
        signal('new_country', 20, 'country FR differs from known DE, NL'),
        signal('new_device', 50, 'device laptop-2 never seen for this subject'),
      ],
    });
    expect(why.summary).toBe('New device in a new country (FR)');
    expect(why.reasons).toEqual([
      'You have not used this device with your account before.',
      'You are connecting from a country you have not used before (FR).',
    ]);
  });

  it('words the other known signals and combinations', () => {
    const at = (...signals: ReturnType<typeof signal>[]) =>
      explainRisk({ score: 40, level: 'medium', signals }).summary;
    expect(
      at(signal('unconfirmed_device', 30, 'device x seen 2 times'), signal('new_network', 15, 'n')),
    ).toBe('Unconfirmed device on a new network');
    expect(at(signal('new_network', 15, 'network 10.0.0.0/24 never seen'))).toBe(
      'Sign-in from a new network',
    );
    expect(at(signal('failed_challenges', 20, '2 failed challenges in the last 900 s'))).toBe(
      'Recent failed attempts on your account',
    );
    expect(at()).toBe('This action always needs a recent confirmation');
    expect(
      explainRisk({
        score: 40,
        level: 'medium',
        signals: [signal('failed_challenges', 20, '2 failed challenges in the last 900 s')],
      }).reasons,
    ).toEqual(['There were 2 failed confirmations recently.']);
  });

  it("falls back to risk's own words for a signal it does not know", () => {
    expect(
      explainRisk({
        score: 40,
        level: 'medium',
        signals: [signal('impossible_travel', 40, 'moved 900 km in 5 min')],
      }),
    ).toEqual({
      summary: 'This action always needs a recent confirmation',
      reasons: ['Moved 900 km in 5 min'],
    });
  });

  it('gives as reasons only the signals that raised the score', () => {
    expect(
      explainRisk({
        score: 30,
        level: 'medium',
        signals: [
          signal('unconfirmed_device', 30, 'device x seen 2 times'),
          signal('known_network', 0, 'network 10.0.0.0/24: 2 of 2 accesses'),
          signal('trusted_network', -20, 'office network'),
        ],
      }).reasons,
    ).toEqual(['This device has not been confirmed yet.']);
  });
});
