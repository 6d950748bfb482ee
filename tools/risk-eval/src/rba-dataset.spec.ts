import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAccessStream } from './access-stream';
import { csvFields, parseRbaCsv, rbaToAccessLines } from './rba-dataset';

const SAMPLE = '/work/shared/data/rba-sample/rba-dataset-head19.csv';
let sample: string | null = null;
try {
  sample = readFileSync(SAMPLE, 'utf8');
} catch {
  sample = null;
}

describe('RBA dataset conversion', () => {
  it('splits CSV fields, quoted ones with commas and doubled quotes included', () => {
    expect(csvFields('a,"b, c",,"say ""hi""",e')).toEqual(['a', 'b, c', '', 'say "hi"', 'e']);
    expect(csvFields('')).toEqual(['']);
  });

  it('refuses a file that is not the dataset', () => {
    expect(() => parseRbaCsv('a,b\n1,2', 'x.csv')).toThrow(/not the RBA dataset header/);
  });

  it.skipIf(sample === null)('converts the sample: successful logins only, valid evaluation input', () => {
    const rows = parseRbaCsv(sample!, SAMPLE);
    expect(rows).toHaveLength(19);
    expect(rows[0]).toMatchObject({
      time: '2020-02-03T12:43:30.772Z',
      subject: '-4324475583306591935',
      ip: '10.0.65.171',
      success: false,
    });
    expect(rows[1]!.userAgent).toContain('(KHTML, like Gecko Chrome/46.0.2490.76');
    expect(rows.filter((r) => r.attackIp)).toHaveLength(2);
    const lines = rbaToAccessLines(rows);
    expect(lines).toHaveLength(7);
    const accesses = parseAccessStream(lines.join('\n'), 'converted');
    expect(accesses.every((a) => a.label === 'legit')).toBe(true);
    // The device stands for user + user-agent string: the same pair, the same device id.
    const first = accesses[0]!;
    expect(first.deviceId).toMatch(new RegExp(`^${first.subject}:[0-9a-f]{8}$`));
  });
});
