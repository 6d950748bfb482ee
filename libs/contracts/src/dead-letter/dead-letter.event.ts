import { z } from 'zod';
import { isoTime } from '../common';

/** A message a consumer refused, with where it came from and why; the raw value is kept as received. */
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
