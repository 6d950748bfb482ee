// Hand-written multi-row SQL for the batch paths, portable between PostgreSQL ($n) and SQLite (?):
// placeholders are numbered in the order they are written, which is the order SQLite binds them. Rows to
// insert go to PostgreSQL as one array per column (unnest), which it plans once whatever the row count,
// and to SQLite as a VALUES list in statements of ROWS_PER_STATEMENT.
import type { EntityManager } from 'typeorm';

/** Rows per statement: well under both drivers' limits on bound parameters. */
export const ROWS_PER_STATEMENT = 400;

/** PostgreSQL array types of the columns `rows` sends. */
export type ColumnType = 'text' | 'bigint' | 'int' | 'float8';

export class Sql {
  readonly params: unknown[] = [];

  constructor(readonly postgres: boolean) {}

  static for(em: EntityManager): Sql {
    return new Sql(em.connection.options.type === 'postgres');
  }

  /** A placeholder bound to `value`. */
  p(value: unknown): string {
    this.params.push(value);
    return this.postgres ? `$${this.params.length}` : '?';
  }

  /** `(?, ?), (?, ?)`: one tuple per row. */
  tuples(rows: readonly (readonly unknown[])[]): string {
    return rows.map((row) => `(${row.map((v) => this.p(v)).join(', ')})`).join(', ');
  }

  /**
   * A row source for INSERT ... <source>: `SELECT * FROM unnest($1::text[], ...)` on PostgreSQL (rows must
   * be unique by the conflict key: one statement cannot update a row twice), `VALUES (?, ?), ...` on SQLite.
   */
  rows(rows: readonly (readonly unknown[])[], types: readonly ColumnType[]): string {
    if (!this.postgres) return `VALUES ${this.tuples(rows)}`;
    const columns = types.map((type, c) => `${this.p(rows.map((row) => row[c]))}::${type}[]`);
    return `SELECT * FROM unnest(${columns.join(', ')})`;
  }

  /** `?, ?, ?`: a list for IN. */
  list(values: readonly unknown[]): string {
    return values.map((v) => this.p(v)).join(', ');
  }
}

/** Runs a statement; the rows it returns (SELECT or RETURNING), on either driver. */
export async function run<T>(em: EntityManager, sql: Sql, text: string): Promise<T[]> {
  const result: unknown = await em.query(text, sql.params);
  // PostgreSQL answers an INSERT/UPDATE/DELETE ... RETURNING with [rows, count]; SQLite with the rows.
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  )
    return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}

/** Splits rows into statements of at most ROWS_PER_STATEMENT. */
export function* chunks<T>(rows: readonly T[], size = ROWS_PER_STATEMENT): Generator<T[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/** Rows to insert with `Sql.rows`: all in one statement on PostgreSQL, in chunks on SQLite. */
export function insertChunks<T>(em: EntityManager, rows: readonly T[]): Iterable<T[]> {
  if (rows.length === 0) return [];
  return em.connection.options.type === 'postgres' ? [[...rows]] : chunks(rows);
}

/** A number column as the drivers return it: bigint and numeric come back from PostgreSQL as strings. */
export type DbNumber = number | string;

/** bigint and numeric columns come back from PostgreSQL as strings. */
export const num = (v: unknown): number => Number(v);
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * The column list of a SELECT that reads rows of type `Row`: every column the type names and no other (the
 * compiler holds the list to the type), so a query's text and the row it is read into cannot drift apart.
 */
export function columns<Row>(names: { readonly [K in keyof Row]-?: true }): string {
  return Object.keys(names).join(', ');
}
