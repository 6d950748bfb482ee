// What an "offset out of range" reset skipped. kafkajs resets such a partition to the earliest (or latest)
// offset and only logs it; from the offset the consumer had reached and the partition's offsets after the
// reset we can tell which offsets it never handled.

export interface ResetInput {
  topic: string;
  partition: number;
  /** The offset the consumer asked for (the next one it would have handled), when known. */
  from: number | null;
  /** The partition's earliest and next offsets after the reset; null when they could not be read. */
  low: number | null;
  high: number | null;
  /** Where kafkajs resets to: the earliest offset (consumers that must see every event) or the latest. */
  fromBeginning: boolean;
}

export interface OffsetReset {
  topic: string;
  partition: number;
  at: number;
  from: number | null;
  /** Where consumption resumed, when known. */
  to: number | null;
  /** Offsets skipped without being handled: null when it cannot be told. */
  skipped: number | null;
  description: string;
}

export function describeReset(input: ResetInput, at = Date.now()): OffsetReset {
  const { topic, partition, from, low, high, fromBeginning } = input;
  const where = `${topic}[${partition}]`;
  const base = { topic, partition, at, from };
  const target = fromBeginning ? low : high;
  const end = fromBeginning ? 'earliest' : 'latest';
  if (low === null || high === null || target === null) {
    return {
      ...base,
      to: null,
      skipped: null,
      description: `${where}: offset ${from ?? '(unknown)'} out of range, reset to the ${end} offset; the partition's offsets could not be read, so what was skipped is unknown`,
    };
  }
  if (from === null) {
    return {
      ...base,
      to: target,
      skipped: null,
      description: `${where}: offset out of range, reset to the ${end} offset ${target}; the offset the consumer had reached is unknown, so what was skipped is unknown`,
    };
  }
  if (from > high) {
    return {
      ...base,
      to: target,
      skipped: 0,
      description:
        `${where}: offset ${from} is past the partition's end (${high}): reset to the ${end} offset ${target}` +
        (fromBeginning && high > low
          ? `; offsets ${low} to ${high - 1} are handled again (idempotently)`
          : ''),
    };
  }
  const skipped = Math.max(0, target - from);
  if (skipped === 0) {
    return {
      ...base,
      to: target,
      skipped: 0,
      description: `${where}: offset ${from} out of range, reset to the ${end} offset ${target}; nothing skipped`,
    };
  }
  const deleted = Math.min(target, low) - from;
  const why =
    deleted >= skipped
      ? 'deleted by retention before this consumer read them'
      : deleted > 0
        ? `${deleted} deleted by retention, the rest skipped by the reset to the latest offset`
        : 'skipped by the reset to the latest offset';
  return {
    ...base,
    to: target,
    skipped,
    description: `${where}: offsets ${from} to ${target - 1} (${skipped}) ${why}; resumed at ${target}`,
  };
}
