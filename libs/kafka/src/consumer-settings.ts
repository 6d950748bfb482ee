// How a service's bus consumer treats faults and what its health reports: one schema, in each service's
// `kafka:` config section. Every field is optional in the file; `consumerSettingsOf` fills in the defaults.
import { z } from 'zod';

const redelivery = z.strictObject({
  /** Times a valid message is handled before it goes to the dead-letter topic (1: never retried). */
  attempts: z.int().min(1).max(100).default(5),
  /** Wait before the second attempt; each later one waits twice as long, up to maxBackoffMs. */
  backoffMs: z.int().min(10).max(60_000).default(500),
  maxBackoffMs: z.int().min(10).max(600_000).default(30_000),
});

const health = z.strictObject({
  /** Readiness warns when an assigned partition is more than this many messages behind. */
  maxLag: z.int().min(1).default(10_000),
  /**
   * Liveness fails (restart me) when the consumer crashed this many times within windowSeconds, broker
   * outages aside: kafkajs restarts it each time, and it keeps failing.
   */
  crashLoop: z
    .strictObject({
      crashes: z.int().min(2).max(1000).default(5),
      windowSeconds: z.int().min(10).max(86_400).default(600),
    })
    .prefault({}),
  /** How long readiness warns about offsets the consumer skipped (the broker no longer had them). */
  offsetResetWarningSeconds: z
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(3600),
});

/**
 * The fields of a service's `kafka:` section for its consumer. Optional (not defaulted) so that code building
 * a config by hand may leave them out; read them through `consumerSettingsOf`.
 */
export const consumerSettingsFields = {
  /** Handler failures: bounded redelivery with backoff, then the dead-letter topic. */
  redelivery: redelivery
    .refine((r) => r.maxBackoffMs >= r.backoffMs, {
      message: 'maxBackoffMs must be at least backoffMs',
      path: ['maxBackoffMs'],
    })
    .optional(),
  /** Liveness and readiness bounds. */
  health: health.optional(),
};

export interface ConsumerSettings {
  redelivery: z.infer<typeof redelivery>;
  health: z.infer<typeof health>;
}

/** The settings with every default filled in. */
export function consumerSettingsOf(
  section: { redelivery?: ConsumerSettings['redelivery']; health?: ConsumerSettings['health'] } = {},
): ConsumerSettings {
  return {
    redelivery: section.redelivery ?? redelivery.parse({}),
    health: section.health ?? health.parse({}),
  };
}

export const DEFAULT_CONSUMER_SETTINGS: ConsumerSettings = consumerSettingsOf();
