import { describe, expect, it } from 'vitest';
import { InputError, parseAccessStream } from './access-stream';

const line = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    time: '2025-06-01T12:00:00Z',
    subject: 'alice',
    ip: '81.2.69.142',
    userAgent: 'ua',
    deviceId: 'd-1',
    label: 'legit',
    ...over,
  });

function problemsOf(text: string): string[] {
  try {
    parseAccessStream(text, 'in.jsonl');
  } catch (err) {
    if (err instanceof InputError) return err.problems;
    throw err;
  }
  throw new Error('expected an InputError');
}

describe(parseAccessStream.name, () => {
  it('reads one access per line, skipping blank lines', () => {
    const text = `${line()}\n\n${line({ label: 'attack', attacker: 'vpn', deviceId: null })}\n`;
    expect(parseAccessStream(text, 'in.jsonl')).toMatchObject([
      { subject: 'alice', label: 'legit' },
      { label: 'attack', attacker: 'vpn', deviceId: null },
    ]);
  });

  it('names every bad line by number, with the field and the reason', () => {
    const text = [
      line(),
      'not json',
      line({ ip: 'nowhere' }),
      line({ label: 'maybe', time: 'yesterday' }),
      line({ attacker: 'naive' }),
      line({ extra: 1 }),
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/^line 2: not JSON/),
      expect.stringMatching(/^line 3: ip: /),
      expect.stringMatching(/^line 4: time: .*; label: /),
      'line 5: attacker is only for label "attack"',
      expect.stringMatching(/^line 6: \(line\): Unrecognized key/),
    ]);
  });

  it('refuses an empty stream and caps the list of problems', () => {
    expect(problemsOf('\n\n')).toEqual(['no accesses']);
    const many = Array.from({ length: 30 }, () => 'x').join('\n');
    const problems = problemsOf(many);
    expect(problems).toHaveLength(21);
    expect(problems.at(-1)).toBe('... and 10 more');
  });
});
