// Recorded access decisions from risk's own database: the risk_assessments rows of source `access`, in the
// order they were written, a page at a time (keyset on seq), so a backtest over millions of rows holds one
// page in memory. Works on SQLite and PostgreSQL.
import type { AccessDecision, RiskLevel } from '@stepgate/contracts';
import type { EntityManager } from 'typeorm';
import { Sql } from '../database/sql';
import type { ScoredSignal } from '@stepgate/risk-scoring';
import type { RecordedDecision } from './backtest.engine';

export interface RecordedWindow {
  /** Epoch ms, inclusive; the time the assessment was recorded. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** Stops the reading between pages (the caller went away): the generator throws the signal's reason. */
  signal?: AbortSignal;
}

const COLUMNS =
  'seq, time, subject, device_id, client_ip, route, decision, score, level, model_version, signals';
type Row = [
  seq: number | string,
  time: number | string,
  subject: string,
  deviceId: string | null,
  clientIp: string | null,
  route: string | null,
  decision: AccessDecision | null,
  score: number,
  level: RiskLevel,
  modelVersion: string,
  signals: string,
];

/**
 * seq values per page. Between pages the generator yields to the event loop (setImmediate): a backtest run
 * inside the risk service must not hold up its consumers and the gateway's synchronous assessments for the
 * whole run, only for a page (tens of milliseconds).
 */
export const PAGE_SIZE = 2000;

interface RawSqlite {
  prepare(sql: string): { raw(on: boolean): { all(...params: unknown[]): unknown[] } };
}

export async function* recordedDecisions(
  em: EntityManager,
  window: RecordedWindow = {},
  pageSize = PAGE_SIZE,
): AsyncGenerator<RecordedDecision> {
  const bounds = await seqBounds(em, window);
  if (bounds === null) return;
  const page = pager(em, window);
  // Ranges of seq, not LIMIT: an index range scan whatever the planner's statistics say (with stale ones,
  // PostgreSQL chose a full scan for every `ORDER BY seq LIMIT n` page). Rows written after the bounds were
  // read are not included: the run reads what was there when it started.
  for (let lo = bounds.lo; lo <= bounds.hi; lo += pageSize) {
    const rows = await page(lo, Math.min(lo + pageSize, bounds.hi + 1));
    await new Promise((resolve) => setImmediate(resolve));
    window.signal?.throwIfAborted();
    for (const r of rows) {
      yield {
        time: Number(r[1]),
        subject: r[2],
        deviceId: r[3],
        clientIp: r[4],
        route: r[5],
        decision: r[6],
        score: Number(r[7]),
        level: r[8],
        modelVersion: r[9],
        signals: JSON.parse(r[10]) as ScoredSignal[],
      };
    }
  }
}

/** The first and last seq to read: of the window when there is one (through the time index). */
async function seqBounds(
  em: EntityManager,
  window: RecordedWindow,
): Promise<{ lo: number; hi: number } | null> {
  const sql = Sql.for(em);
  const conditions: string[] = [];
  if (window.from !== undefined) conditions.push(`time >= ${sql.p(window.from)}`);
  if (window.to !== undefined) conditions.push(`time < ${sql.p(window.to)}`);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const [row] = await em.query<{ lo: number | string | null; hi: number | string | null }[]>(
    `SELECT MIN(seq) AS lo, MAX(seq) AS hi FROM risk_assessments ${where}`,
    sql.params,
  );
  if (!row || row.lo === null || row.hi === null) return null;
  return { lo: Number(row.lo), hi: Number(row.hi) };
}

/** Rows with lo <= seq < hi. On SQLite straight from the driver as arrays: the read is much of the cost. */
function pager(em: EntityManager, window: RecordedWindow): (lo: number, hi: number) => Promise<Row[]> {
  const sql = Sql.for(em);
  const conditions = [`seq >= ${sql.p(0)}`, `seq < ${sql.p(0)}`, `source = 'access'`];
  if (window.from !== undefined) conditions.push(`time >= ${sql.p(window.from)}`);
  if (window.to !== undefined) conditions.push(`time < ${sql.p(window.to)}`);
  const text = `SELECT ${COLUMNS} FROM risk_assessments WHERE ${conditions.join(' AND ')} ORDER BY seq`;
  const params = (lo: number, hi: number) => [lo, hi, ...sql.params.slice(2)];
  if (sql.postgres) {
    return async (lo, hi) => {
      const rows = await em.query<Record<string, unknown>[]>(text, params(lo, hi));
      return rows.map((r) => COLUMN_NAMES.map((c) => r[c]) as Row);
    };
  }
  const connection = (em.connection.driver as unknown as { databaseConnection: RawSqlite })
    .databaseConnection;
  const statement = connection.prepare(text).raw(true);
  return (lo, hi) => Promise.resolve(statement.all(...params(lo, hi)) as Row[]);
}

const COLUMN_NAMES = COLUMNS.split(', ');
