import type { ValueTransformer } from 'typeorm';

/** Times are stored as epoch milliseconds in a bigint column: portable between SQLite and PostgreSQL. */
export const epochMs: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null ? null : Number(v)),
};
