import { z } from 'zod';
import { isoTime } from '../common';

/**
 * A message a consumer refused, with where it came from and why; the raw value is kept as received (so its
 * strings are not refined: a NUL is what may have brought it here, and JSON carries it escaped). `reason` is
 * the contract's problems for a malformed message; `handler failed after N attempts: ...` for a valid one
 * whose handler kept failing; `offset out of range: ...` for offsets the consumer skipped because the broker
 * no longer had them (then `value` is empty and `offset` the first one skipped, or null if unknown).
 */
export const deadLetter = z.strictObject({
  time: isoTime,
  consumer: z.string().min(1).max(128),
  topic: z.string().min(1).max(249),
  partition: z.number().int().nullable(),
  offset: z.string().nullable(),
  key: z.string().nullable(),
  value: z.string(),
  reason: z.string().min(1).max(4000),
});
export type DeadLetter = z.infer<typeof deadLetter>;
export const deadLetterKey = (d: DeadLetter): string => d.topic;
