// What the console shows, read from the assessments risk recorded for access events: counts grouped in SQL
// (by route, score and decision; by time bucket and decision; by signal), and a page of the newest
// decisions; and the newest policy versions. Every query is bounded by the window, and by a limit where the
// rows are not aggregates.
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository, SelectQueryBuilder } from 'typeorm';
import { PolicyStoreService } from '../policy/policy-store.service';
import { RiskPolicyService } from '../policy/risk-policy.service';
import { summaryOf } from '../policy/version-summary';
import { AssessmentEntity } from '../profiles/assessment.entity';
import { RISK_DB } from '../database/risk.data-source';
import { num, Sql } from '../database/sql';
import {
  bucketSizeFor,
  countedDecision,
  histogram,
  noDecisions,
  rateSeries,
  type ConsoleData,
  type DecisionView,
  type RouteView,
  type SignalView,
} from './console.stats';

/** Routes drawn (the busiest); the policy has a handful, this only guards against a flood of ids. */
export const MAX_ROUTES = 30;
export const RECENT_DECISIONS = 50;
export const TOP_SIGNALS = 15;
/** Policy versions listed; GET /admin/policy/versions pages through the rest. */
export const VERSIONS_SHOWN = 10;

export interface ConsoleQuery {
  fromMs: number;
  toMs: number;
  route: string | null;
}

@Injectable()
export class ConsoleService {
  constructor(
    @InjectRepository(AssessmentEntity, RISK_DB) private readonly records: Repository<AssessmentEntity>,
    private readonly policy: RiskPolicyService,
    private readonly store: PolicyStoreService,
  ) {}

  async view(query: ConsoleQuery): Promise<ConsoleData> {
    // One policy read: the thresholds drawn and the version shown belong together.
    const active = this.policy.current;
    const sizeMs = bucketSizeFor(query.toMs - query.fromMs);
    const perRoute = await this.routeTotals(query);
    // A filtered route is drawn whether or not it is among the busiest; the totals cover the whole window
    // (every route, or the filtered one), not only the routes drawn.
    const shown = query.route === null ? perRoute.slice(0, MAX_ROUTES) : [{ route: query.route, count: 0 }];
    const [bins, buckets, topSignals, recent, totals, versions] = await Promise.all([
      this.scoreCounts(
        query,
        shown.map((r) => r.route),
      ),
      this.bucketCounts(query, sizeMs),
      this.topSignals(query),
      this.recent(query),
      this.decisionTotals(query),
      this.store.list(VERSIONS_SHOWN),
    ]);
    const routes: RouteView[] = shown.map(({ route }) => {
      const rows = bins.filter((b) => b.route === route);
      const decisions = noDecisions();
      for (const row of rows) decisions[countedDecision(row.decision)] += row.count;
      return {
        route,
        total: rows.reduce((n, r) => n + r.count, 0),
        decisions,
        histogram: histogram(rows),
      };
    });
    return {
      window: {
        from: new Date(query.fromMs).toISOString(),
        to: new Date(query.toMs).toISOString(),
        bucketSeconds: sizeMs / 1000,
      },
      route: query.route,
      policyVersion: active.version,
      versionInForce: active.policyVersion,
      thresholds: { ...active.config.thresholds },
      routesSeen: perRoute.flatMap((r) => (r.route === null ? [] : [r.route])),
      total: totals.reduce((n, r) => n + r.count, 0),
      decisions: totals.reduce((d, r) => {
        d[countedDecision(r.decision)] += r.count;
        return d;
      }, noDecisions()),
      routes,
      rates: rateSeries(buckets, query.fromMs, query.toMs, sizeMs),
      topSignals,
      recent,
      versions: versions.map(summaryOf),
    };
  }

  private inWindow(query: ConsoleQuery, route = query.route): SelectQueryBuilder<AssessmentEntity> {
    const qb = this.records
      .createQueryBuilder('a')
      .where("a.source = 'access'")
      .andWhere('a.time >= :fromMs AND a.time < :toMs', { fromMs: query.fromMs, toMs: query.toMs });
    return route === null ? qb : qb.andWhere('a.route = :route', { route });
  }

  /** Accesses per route in the window, busiest first (at most a few more than drawn: the filter lists them). */
  private async routeTotals(query: ConsoleQuery): Promise<{ route: string | null; count: number }[]> {
    const rows = await this.inWindow(query, null)
      .select('a.route', 'route')
      .addSelect('COUNT(*)', 'n')
      .groupBy('a.route')
      .orderBy('n', 'DESC')
      .addOrderBy('a.route', 'ASC')
      .limit(MAX_ROUTES * 4)
      .getRawMany<{ route: string | null; n: unknown }>();
    return rows.map((r) => ({ route: r.route, count: num(r.n) }));
  }

  /** Accesses per decision in the window (the route filter applied). */
  private async decisionTotals(query: ConsoleQuery): Promise<{ decision: string | null; count: number }[]> {
    const rows = await this.inWindow(query)
      .select('a.decision', 'decision')
      .addSelect('COUNT(*)', 'n')
      .groupBy('a.decision')
      .getRawMany<{ decision: string | null; n: unknown }>();
    return rows.map((r) => ({ decision: r.decision, count: num(r.n) }));
  }

  /** Counts per (route, score, decision): at most 101 scores x a few decisions per route. */
  private async scoreCounts(
    query: ConsoleQuery,
    routes: readonly (string | null)[],
  ): Promise<{ route: string | null; score: number; decision: string | null; count: number }[]> {
    const named = routes.filter((r): r is string => r !== null);
    if (routes.length === 0) return [];
    const qb = this.inWindow(query, null);
    const clauses = [
      ...(named.length > 0 ? ['a.route IN (:...named)'] : []),
      ...(routes.includes(null) ? ['a.route IS NULL'] : []),
    ];
    const rows = await qb
      .andWhere(`(${clauses.join(' OR ')})`, { named })
      .select('a.route', 'route')
      .addSelect('a.score', 'score')
      .addSelect('a.decision', 'decision')
      .addSelect('COUNT(*)', 'n')
      .groupBy('a.route')
      .addGroupBy('a.score')
      .addGroupBy('a.decision')
      .getRawMany<{ route: string | null; score: unknown; decision: string | null; n: unknown }>();
    return rows.map((r) => ({ route: r.route, score: num(r.score), decision: r.decision, count: num(r.n) }));
  }

  /** Counts per (time bucket, decision): the bucket is the integer `(time - from) / size` on both databases. */
  private async bucketCounts(
    query: ConsoleQuery,
    sizeMs: number,
  ): Promise<{ bucket: number; decision: string | null; count: number }[]> {
    const rows = await this.inWindow(query)
      .select('(a.time - :fromMs) / :sizeMs', 'bucket')
      .addSelect('a.decision', 'decision')
      .addSelect('COUNT(*)', 'n')
      .setParameter('sizeMs', sizeMs)
      .groupBy('bucket')
      .addGroupBy('a.decision')
      .getRawMany<{ bucket: unknown; decision: string | null; n: unknown }>();
    return rows.map((r) => ({ bucket: Math.floor(num(r.bucket)), decision: r.decision, count: num(r.n) }));
  }

  /**
   * How often each signal moved a score, and by how much in all. Signals are JSON in a text column: unnested
   * with json_each on SQLite, jsonb_array_elements on PostgreSQL; aggregated there, never loaded.
   */
  private async topSignals(query: ConsoleQuery): Promise<SignalView[]> {
    const postgres = this.records.manager.connection.options.type === 'postgres';
    const sql = new Sql(postgres);
    const [name, weight, from] = postgres
      ? [
          "s->>'name'",
          "(s->>'weight')::float8",
          'risk_assessments a CROSS JOIN LATERAL jsonb_array_elements(a.signals::jsonb) s',
        ]
      : [
          "json_extract(s.value, '$.name')",
          "json_extract(s.value, '$.weight')",
          'risk_assessments a, json_each(a.signals) s',
        ];
    const where = [
      "a.source = 'access'",
      `a.time >= ${sql.p(query.fromMs)}`,
      `a.time < ${sql.p(query.toMs)}`,
      ...(query.route === null ? [] : [`a.route = ${sql.p(query.route)}`]),
      `${weight} <> 0`,
    ];
    const rows: { name: string; fired: unknown; points: unknown }[] = await this.records.query(
      `SELECT ${name} AS name, COUNT(*) AS fired, SUM(${weight}) AS points
       FROM ${from} WHERE ${where.join(' AND ')}
       GROUP BY ${name} ORDER BY fired DESC, name ASC LIMIT ${sql.p(TOP_SIGNALS)}`,
      sql.params,
    );
    return rows.map((r) => ({
      name: r.name,
      fired: num(r.fired),
      points: Math.round(num(r.points) * 10) / 10,
    }));
  }

  private async recent(query: ConsoleQuery): Promise<DecisionView[]> {
    const rows = await this.inWindow(query)
      .orderBy('a.time', 'DESC')
      .addOrderBy('a.seq', 'DESC')
      .limit(RECENT_DECISIONS)
      .getMany();
    return rows.map((r) => ({
      time: new Date(r.time).toISOString(),
      subject: r.subject,
      deviceId: r.deviceId,
      route: r.route,
      score: r.score,
      level: r.level,
      decision: r.decision,
      modelVersion: r.modelVersion,
      // The published fields only: what risk keeps besides, to re-weigh a signal, is not for display.
      signals: r.signals.map(({ name, weight, detail }) => ({ name, weight, detail })),
    }));
  }
}
