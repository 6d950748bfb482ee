// Recorded access decisions from risk's own database: the risk_assessments rows of source `access`, in the
// order they were written, a page at a time (keyset on seq), so a backtest over millions of rows holds one
// page in memory. Works on SQLite and PostgreSQL.
import type { AccessDecision, RiskLevel } from '@stepgate/contracts';
import type { EntityManager } from 'typeorm';
import { run, Sql } from '../profiles/sql';
import type { ScoredSignal } from '../scoring/weighing';
import type { RecordedDecision } from './backtest.engine';

export interface RecordedWindow {
  /** Epoch ms, inclusive; the time the assessment was recorded. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

interface Row {
  seq: number | string;
  time: number | string;
  subject: string;
  device_id: string | null;
  client_ip: string | null;
  route: string | null;
  decision: AccessDecision | null;
  score: number;
  level: RiskLevel;
  model_version: string;
  signals: string;
}

export const PAGE_SIZE = 5000;

export async function* recordedDecisions(
  em: EntityManager,
  window: RecordedWindow = {},
  pageSize = PAGE_SIZE,
): AsyncGenerator<RecordedDecision> {
  let after = 0;
  for (;;) {
    const sql = Sql.for(em);
    const conditions = [`source = 'access'`, `seq > ${sql.p(after)}`];
    if (window.from !== undefined) conditions.push(`time >= ${sql.p(window.from)}`);
    if (window.to !== undefined) conditions.push(`time < ${sql.p(window.to)}`);
    const rows = await run<Row>(
      em,
      sql,
      `SELECT seq, time, subject, device_id, client_ip, route, decision, score, level, model_version, signals
       FROM risk_assessments WHERE ${conditions.join(' AND ')} ORDER BY seq LIMIT ${sql.p(pageSize)}`,
    );
    for (const r of rows) {
      yield {
        time: Number(r.time),
        subject: r.subject,
        deviceId: r.device_id,
        clientIp: r.client_ip,
        route: r.route,
        decision: r.decision,
        score: Number(r.score),
        level: r.level,
        modelVersion: r.model_version,
        signals: JSON.parse(r.signals) as ScoredSignal[],
      };
    }
    if (rows.length < pageSize) return;
    after = Number(rows[rows.length - 1]!.seq);
  }
}
