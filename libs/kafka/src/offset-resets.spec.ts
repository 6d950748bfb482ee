import { describe, expect, it } from 'vitest';
import { describeReset } from './offset-resets';

const at = Date.parse('2026-01-01T00:00:00Z');
const reset = (over: Partial<Parameters<typeof describeReset>[0]>) =>
  describeReset({ topic: 't', partition: 2, from: 10, low: 25, high: 40, fromBeginning: true, ...over }, at);

describe(describeReset.name, () => {
  it('names the offsets retention deleted before the consumer read them', () => {
    expect(reset({})).toEqual({
      topic: 't',
      partition: 2,
      at,
      from: 10,
      to: 25,
      skipped: 15,
      description:
        't[2]: offsets 10 to 24 (15) deleted by retention before this consumer read them; resumed at 25',
    });
  });

  it('counts what a reset to the latest offset skips beyond what retention deleted', () => {
    expect(reset({ fromBeginning: false })).toMatchObject({
      to: 40,
      skipped: 30,
      description:
        't[2]: offsets 10 to 39 (30) 15 deleted by retention, the rest skipped by the reset to the latest offset; resumed at 40',
    });
  });

  it('skips nothing when the offset is past the end, and says what is handled again', () => {
    expect(reset({ from: 90 })).toMatchObject({
      to: 25,
      skipped: 0,
      description:
        "t[2]: offset 90 is past the partition's end (40): reset to the earliest offset 25; offsets 25 to 39 are handled again (idempotently)",
    });
  });

  it('says so when the offset reached or the partition cannot be known', () => {
    expect(reset({ from: null })).toMatchObject({ from: null, to: 25, skipped: null });
    expect(reset({ from: null }).description).toMatch(/what was skipped is unknown/);
    expect(reset({ low: null, high: null })).toMatchObject({ to: null, skipped: null });
  });
});
