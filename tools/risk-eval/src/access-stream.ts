// The evaluation's input: one labelled access per JSON line, validated with the line number of each problem.
import { DEVICE_SOURCES } from '@stepgate/contracts';
import { z } from 'zod';

/**
 * Attacker models: Wiefling et al.'s four, and `replay-foreign`: the victim's device id and exact user agent
 * copied, from another country.
 */
export const ATTACKERS = ['naive', 'vpn', 'targeted', 'very-targeted', 'replay-foreign'] as const;
export type Attacker = (typeof ATTACKERS)[number];

/**
 * Kinds of legitimate access, reported apart: `browser` (default), `api` (a client that never sends a device
 * id) and `cookie-clear` (a browser's first access with a fresh device id after its cookies were cleared).
 */
export const COHORTS = ['browser', 'api', 'cookie-clear'] as const;
export type Cohort = (typeof COHORTS)[number];

const labelledAccess = z.strictObject({
  time: z.iso.datetime({ offset: true }),
  subject: z.string().min(1).max(256),
  ip: z.union([z.ipv4(), z.ipv6()]),
  userAgent: z.string().max(1024),
  deviceId: z.string().min(1).max(128).nullable(),
  /** Where the device id came from (default: a browser's cookie when there is one). */
  deviceSource: z.enum(DEVICE_SOURCES).nullable().optional(),
  label: z.enum(['legit', 'attack']),
  attacker: z.enum(ATTACKERS).optional(),
  cohort: z.enum(COHORTS).optional(),
});
export type LabelledAccess = z.infer<typeof labelledAccess>;

export class InputError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} invalid line(s):\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

const MAX_REPORTED = 20;

/** Parses JSONL; blank lines are skipped. Throws InputError listing the problems (the first 20) by line. */
export function parseAccessStream(text: string, source: string): LabelledAccess[] {
  const accesses: LabelledAccess[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const at = `line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      problems.push(`${at}: not JSON (${(err as Error).message})`);
      return;
    }
    const result = labelledAccess.safeParse(value);
    if (!result.success) {
      const why = result.error.issues.map((x) => `${x.path.join('.') || '(line)'}: ${x.message}`).join('; ');
      problems.push(`${at}: ${why}`);
      return;
    }
    if (result.data.attacker !== undefined && result.data.label !== 'attack') {
      problems.push(`${at}: attacker is only for label "attack"`);
      return;
    }
    if (result.data.cohort !== undefined && result.data.label !== 'legit') {
      problems.push(`${at}: cohort is only for label "legit"`);
      return;
    }
    if ((result.data.deviceSource ?? null) !== null && result.data.deviceId === null) {
      problems.push(`${at}: deviceSource needs a deviceId`);
      return;
    }
    accesses.push(result.data);
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_REPORTED);
    if (problems.length > MAX_REPORTED) shown.push(`... and ${problems.length - MAX_REPORTED} more`);
    throw new InputError(source, shown);
  }
  if (accesses.length === 0) throw new InputError(source, ['no accesses']);
  return accesses;
}
