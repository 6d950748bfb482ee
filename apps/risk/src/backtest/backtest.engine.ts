// Backtesting: replays recorded access decisions under the policy in force and under a candidate, and says
// what the candidate would change. Pure: no Nest, no I/O; the recorded decisions come as an async iterable
// (database pages, a topic), are looked at once each, and only bounded samples and per-subject bits are
// kept, so memory does not grow with the number of events.
//
// Both sides re-weigh the recorded signals through the same code (libs/risk-scoring, weighing.ts), so differences come
// only from the candidate. Lists are re-evaluated from the recorded client IP. The decision compared is what
// the route asks for at the level (`decisions[level]`), not whether a token already satisfied a step-up;
// accesses on monitor-mode routes count as would-have.
import type { AccessDecision, RiskLevel, RiskSignal } from '@stepgate/contracts';
import { formatIp, parseIp } from '@stepgate/net';
import {
  levelFor,
  levelRank,
  observedOf,
  pointsOf,
  published,
  tally,
  weigh,
  type ObservedSignal,
  type ScoredSignal,
  type WeighingSettings,
} from '@stepgate/risk-scoring';
import type { BacktestSidePolicy } from './candidate';

/** One recorded access assessment (a risk_assessments row with source `access`). */
export interface RecordedDecision {
  time: number;
  subject: string;
  deviceId: string | null;
  clientIp: string | null;
  route: string | null;
  /** What the gateway did (it may differ from `decisions[level]`: a stepped-up token passes). */
  decision: AccessDecision | null;
  score: number;
  level: RiskLevel;
  modelVersion: string;
  /** As stored; signals recorded before backtesting existed lack units and are not re-weighed. */
  signals: readonly (ScoredSignal | RiskSignal)[];
}

export type RouteDecision = 'allow' | 'step_up' | 'deny';
const DECISIONS: readonly RouteDecision[] = ['allow', 'step_up', 'deny'];
const LEVELS: readonly RiskLevel[] = ['low', 'medium', 'high', 'critical'];
const strictness = (d: RouteDecision) => DECISIONS.indexOf(d);

export interface BacktestOptions {
  /** Changed decisions kept as examples (reservoir-sampled over the whole window). */
  sample?: number;
  /** Subjects listed per direction (newly challenged, released). */
  subjectSample?: number;
  /** What the report says was asked for. */
  window?: { from: string | null; to: string | null };
  /** Warnings from resolving the candidate, carried into the report. */
  warnings?: readonly string[];
  /** Seed of the sampling, so a report can be reproduced. */
  seed?: number;
}

export interface DecisionCounts {
  events: number;
  allow: number;
  step_up: number;
  deny: number;
  rates: { allow: number; step_up: number; deny: number };
  /** Of the step-ups and denials, those on monitor-mode routes: would have, not enforced. */
  monitor: { step_up: number; deny: number };
}

export interface SideOutcome {
  score: number;
  level: RiskLevel;
  decision: RouteDecision | null;
  signals: RiskSignal[];
}

export interface ChangedDecision {
  time: string;
  subject: string;
  deviceId: string | null;
  clientIp: string | null;
  route: string | null;
  recorded: { score: number; level: RiskLevel; decision: AccessDecision | null; modelVersion: string };
  inForce: SideOutcome;
  candidate: SideOutcome;
}

export interface SignalStats {
  /** Accesses on which the signal added points (or, in monitor mode, would have). */
  fired: number;
  /** Accesses whose decision would have been more lenient without the signal's points. */
  decisive: number;
  /** Accesses on which it was in monitor mode and would have added points. */
  monitored: number;
}

export interface BacktestReport {
  window: {
    from: string | null;
    to: string | null;
    firstEvent: string | null;
    lastEvent: string | null;
  };
  policies: { inForce: string; candidate: string };
  events: {
    considered: number;
    /** Recorded before backtesting existed (no units): both sides keep the recorded score. */
    notReweighable: number;
    /** On a route neither side knows: left out of the decision counts. */
    unknownRoute: number;
    /** Re-weighed under the policy in force, a score other than the recorded one (recorded under another policy). */
    inForceDiffersFromRecorded: number;
  };
  inForce: DecisionCounts;
  candidate: DecisionCounts;
  changed: { decisions: number; stricter: number; laxer: number; levels: number; scores: number };
  routes: Record<
    string,
    { mode: { inForce: string; candidate: string }; inForce: DecisionCounts; candidate: DecisionCounts }
  >;
  levels: { inForce: Record<RiskLevel, number>; candidate: Record<RiskLevel, number> };
  signals: Record<string, { inForce: SignalStats; candidate: SignalStats }>;
  subjects: {
    considered: number;
    /** Allowed every time under the policy in force, stepped up or denied at least once under the candidate. */
    newlyChallenged: { count: number; sample: string[] };
    /** Stepped up or denied at least once in force, never under the candidate. */
    released: { count: number; sample: string[] };
  };
  sample: ChangedDecision[];
  warnings: string[];
}

class Counts {
  events = 0;
  allow = 0;
  step_up = 0;
  deny = 0;
  monitorStepUp = 0;
  monitorDeny = 0;

  add(decision: RouteDecision, monitor: boolean): void {
    this.events++;
    this[decision]++;
    if (monitor && decision === 'step_up') this.monitorStepUp++;
    if (monitor && decision === 'deny') this.monitorDeny++;
  }

  toJSON(): DecisionCounts {
    const rate = (n: number) => (this.events === 0 ? 0 : Math.round((n / this.events) * 1e6) / 1e6);
    return {
      events: this.events,
      allow: this.allow,
      step_up: this.step_up,
      deny: this.deny,
      rates: { allow: rate(this.allow), step_up: rate(this.step_up), deny: rate(this.deny) },
      monitor: { step_up: this.monitorStepUp, deny: this.monitorDeny },
    };
  }
}

const IN_FORCE_CHALLENGED = 1;
const CANDIDATE_CHALLENGED = 2;

/** One side's policy, prepared for the hot path. */
class Side {
  readonly weighing: WeighingSettings;

  constructor(readonly policy: BacktestSidePolicy) {
    const { weights, thresholds, model, monitor } = policy.scoring;
    this.weighing = { weights, thresholds, model, monitor };
  }

  /** Per client IP, the ranges of this side's lists it is in (a bounded cache: IPs repeat). */
  private readonly lists = new Map<string, { bad: string | null; trusted: string | null }>();

  private listsOf(ip: string): { bad: string | null; trusted: string | null } {
    let hit = this.lists.get(ip);
    if (hit === undefined) {
      const { badIps, trustedNetworks } = this.policy.scoring.lists;
      if (this.lists.size >= IP_CACHE) this.lists.clear();
      this.lists.set(ip, (hit = { bad: badIps.match(ip), trusted: trustedNetworks.match(ip) }));
    }
    return hit;
  }

  /** The recorded observation with the lists re-evaluated from the client IP under this side's lists. */
  observe(recorded: readonly ObservedSignal[], ip: string | null): ObservedSignal[] {
    const { bad, trusted } = ip === null ? NOT_LISTED : this.listsOf(ip);
    const out: ObservedSignal[] = [];
    let placed = false;
    const place = () => {
      placed = true;
      if (bad !== null)
        out.push({
          name: 'bad_ip',
          knob: 'badIp',
          units: 1,
          detail: `client IP ${ip} is in bad-IP range ${bad}`,
        });
      if (trusted !== null)
        out.push({
          name: 'trusted_network',
          knob: 'trustedNetwork',
          units: 1,
          detail: `client IP ${ip} is in trusted network ${trusted}`,
        });
    };
    for (const s of recorded) {
      if (s.name === 'bad_ip' || s.name === 'trusted_network') continue;
      // In the rule signals' order: the lists come right after the device signals.
      if (!placed && !DEVICE_SIGNALS.has(s.name)) place();
      // Impossible travel is not judged on a trusted network (its egress may be anywhere).
      if (s.name === 'impossible_travel' && trusted !== null) continue;
      out.push(s);
    }
    if (!placed) place();
    return out;
  }

  decisionFor(route: string | null, level: RiskLevel): { decision: RouteDecision; monitor: boolean } | null {
    const view = route === null ? undefined : this.policy.routes.get(route);
    if (!view) return null;
    return { decision: view.decisions[level], monitor: view.mode === 'monitor' };
  }
}

const IP_CACHE = 100_000;
const NOT_LISTED = { bad: null, trusted: null };
const DEVICE_SIGNALS = new Set(['new_device', 'unconfirmed_device', 'device_context_changed']);

interface Evaluated {
  observed: ObservedSignal[];
  score: number;
  level: RiskLevel;
  weights: number[];
  sum: number;
  decision: { decision: RouteDecision; monitor: boolean } | null;
}

export async function backtest(
  recorded: AsyncIterable<RecordedDecision> | Iterable<RecordedDecision>,
  inForce: BacktestSidePolicy,
  candidate: BacktestSidePolicy,
  options: BacktestOptions = {},
): Promise<BacktestReport> {
  const sampleSize = options.sample ?? 20;
  const subjectSample = options.subjectSample ?? 20;
  const random = mulberry32(options.seed ?? 1);
  const sides = [new Side(inForce), new Side(candidate)] as const;
  const totals = [new Counts(), new Counts()];
  const routes = new Map<string, [Counts, Counts]>();
  const levels = [zeroLevels(), zeroLevels()];
  const signals = new Map<string, [SignalStats, SignalStats]>();
  const subjects = new Map<string, number>();
  const sample: ChangedDecision[] = [];
  const changed = { decisions: 0, stricter: 0, laxer: 0, levels: 0, scores: 0 };
  const events = { considered: 0, notReweighable: 0, unknownRoute: 0, inForceDiffersFromRecorded: 0 };
  const versions = new Map<string, number>();
  let first: number | null = null;
  let last: number | null = null;

  const canonical = new CanonicalIps();
  for await (const r of recorded) {
    events.considered++;
    if (first === null || r.time < first) first = r.time;
    if (last === null || r.time > last) last = r.time;
    versions.set(r.modelVersion, (versions.get(r.modelVersion) ?? 0) + 1);
    const reweighable = r.signals.length > 0 && r.signals.every((s) => 'units' in s);
    if (!reweighable) events.notReweighable++;
    const base = reweighable ? (r.signals as ScoredSignal[]).map(observedOf) : [];
    const ip = r.clientIp === null ? null : canonical.of(r.clientIp);
    const evaluated = sides.map((side): Evaluated => {
      if (!reweighable) {
        return {
          observed: [],
          score: r.score,
          level: levelFor(r.score, side.weighing.thresholds),
          weights: [],
          sum: r.score,
          decision: side.decisionFor(r.route, levelFor(r.score, side.weighing.thresholds)),
        };
      }
      const observed = side.observe(base, ip);
      const t = tally(observed, side.weighing);
      return { observed, ...t, decision: side.decisionFor(r.route, t.level) };
    }) as [Evaluated, Evaluated];
    const [a, b] = evaluated;
    if (reweighable && a.score !== r.score) events.inForceDiffersFromRecorded++;
    if (a.level !== b.level) changed.levels++;
    if (a.score !== b.score) changed.scores++;
    evaluated.forEach((e, i) => levels[i]![e.level]++);

    // Signals: fired, decisive, monitored; per side.
    evaluated.forEach((e, i) => {
      const side = sides[i]!;
      e.observed.forEach((o, k) => {
        const w = e.weights[k]!;
        // As live scoring decides it (weighing.ts): a monitored signal worth 0 points would add nothing.
        const monitored =
          side.weighing.monitor?.has(o.name) === true &&
          o.knob !== 'none' &&
          pointsOf(o.knob, o.units, side.weighing) !== 0;
        if (w === 0 && !monitored) return;
        let stats = signals.get(o.name);
        if (!stats) signals.set(o.name, (stats = [zeroStats(), zeroStats()]));
        const s = stats[i]!;
        if (monitored) {
          s.monitored++;
          return;
        }
        s.fired++;
        if (w > 0 && e.decision !== null) {
          const without = levelFor(clampScore(e.sum - w), side.weighing.thresholds);
          const lenient = side.decisionFor(r.route, without);
          if (lenient && strictness(lenient.decision) < strictness(e.decision.decision)) s.decisive++;
        } else if (
          w > 0 &&
          levelRank(levelFor(clampScore(e.sum - w), side.weighing.thresholds)) < levelRank(e.level)
        ) {
          s.decisive++;
        }
      });
    });

    if (a.decision === null || b.decision === null) {
      events.unknownRoute++;
      continue;
    }
    totals[0]!.add(a.decision.decision, a.decision.monitor);
    totals[1]!.add(b.decision.decision, b.decision.monitor);
    const routeId = r.route!;
    let perRoute = routes.get(routeId);
    if (!perRoute) routes.set(routeId, (perRoute = [new Counts(), new Counts()]));
    perRoute[0].add(a.decision.decision, a.decision.monitor);
    perRoute[1].add(b.decision.decision, b.decision.monitor);

    let bits = subjects.get(r.subject) ?? 0;
    if (a.decision.decision !== 'allow') bits |= IN_FORCE_CHALLENGED;
    if (b.decision.decision !== 'allow') bits |= CANDIDATE_CHALLENGED;
    subjects.set(r.subject, bits);

    if (a.decision.decision === b.decision.decision) continue;
    changed.decisions++;
    if (strictness(b.decision.decision) > strictness(a.decision.decision)) changed.stricter++;
    else changed.laxer++;
    // Reservoir sampling: every changed decision has the same chance to be shown.
    const slot =
      changed.decisions <= sampleSize ? changed.decisions - 1 : Math.floor(random() * changed.decisions);
    if (slot < sampleSize) {
      sample[slot] = {
        time: new Date(r.time).toISOString(),
        subject: r.subject,
        deviceId: r.deviceId,
        clientIp: r.clientIp,
        route: r.route,
        recorded: { score: r.score, level: r.level, decision: r.decision, modelVersion: r.modelVersion },
        inForce: explain(a, sides[0]),
        candidate: explain(b, sides[1]),
      };
    }
  }

  const newly: string[] = [];
  const released: string[] = [];
  let newlyCount = 0;
  let releasedCount = 0;
  for (const [subject, bits] of subjects) {
    if (bits === CANDIDATE_CHALLENGED) {
      newlyCount++;
      if (newly.length < subjectSample) newly.push(subject);
    } else if (bits === IN_FORCE_CHALLENGED) {
      releasedCount++;
      if (released.length < subjectSample) released.push(subject);
    }
  }

  const warnings = [...(options.warnings ?? [])];
  const others = [...versions].filter(([v]) => !v.endsWith(inForce.version));
  if (others.length > 0) {
    const n = others.reduce((s, [, c]) => s + c, 0);
    warnings.push(
      `${n} of ${events.considered} accesses were recorded under other policies (${others
        .slice(0, 5)
        .map(([v]) => v)
        .join(
          ', ',
        )}${others.length > 5 ? ', ...' : ''}): their observations (windows, model evidence) are the recorded ones`,
    );
  }
  if (events.notReweighable > 0) {
    warnings.push(
      `${events.notReweighable} accesses were recorded without re-weighable signals (before backtesting existed): both sides keep their recorded score`,
    );
  }
  if (events.unknownRoute > 0) {
    warnings.push(
      `${events.unknownRoute} accesses are on routes not in the policy: left out of the decision counts`,
    );
  }

  return {
    window: {
      from: options.window?.from ?? null,
      to: options.window?.to ?? null,
      firstEvent: first === null ? null : new Date(first).toISOString(),
      lastEvent: last === null ? null : new Date(last).toISOString(),
    },
    policies: { inForce: inForce.version, candidate: candidate.version },
    events,
    inForce: totals[0]!.toJSON(),
    candidate: totals[1]!.toJSON(),
    changed,
    routes: Object.fromEntries(
      [...routes]
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([id, [x, y]]) => [
          id,
          {
            mode: {
              inForce: inForce.routes.get(id)?.mode ?? 'enforce',
              candidate: candidate.routes.get(id)?.mode ?? 'enforce',
            },
            inForce: x.toJSON(),
            candidate: y.toJSON(),
          },
        ]),
    ),
    levels: { inForce: levels[0]!, candidate: levels[1]! },
    signals: Object.fromEntries(
      [...signals]
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([n, [x, y]]) => [n, { inForce: x, candidate: y }]),
    ),
    subjects: {
      considered: subjects.size,
      newlyChallenged: { count: newlyCount, sample: newly },
      released: { count: releasedCount, sample: released },
    },
    sample: sample.sort((x, y) => x.time.localeCompare(y.time)),
    warnings,
  };
}

/** The side's full explanation: the published signals as risk would have said them under that policy. */
function explain(e: Evaluated, side: Side): SideOutcome {
  const signals = e.observed.length === 0 ? [] : published(weigh(e.observed, side.weighing).signals);
  return { score: e.score, level: e.level, decision: e.decision?.decision ?? null, signals };
}

/** Client IPs in the form the scoring saw them (observation.ip), cached: a subject's IPs repeat. */
class CanonicalIps {
  private readonly cache = new Map<string, string | null>();

  of(ip: string): string | null {
    let hit = this.cache.get(ip);
    if (hit === undefined) {
      const parsed = parseIp(ip);
      hit = parsed === null ? null : formatIp(parsed);
      if (this.cache.size >= IP_CACHE) this.cache.clear();
      this.cache.set(ip, hit);
    }
    return hit;
  }
}

function clampScore(sum: number): number {
  return Math.min(100, Math.max(0, Math.round(sum)));
}

const zeroLevels = (): Record<RiskLevel, number> =>
  Object.fromEntries(LEVELS.map((l) => [l, 0])) as Record<RiskLevel, number>;
const zeroStats = (): SignalStats => ({ fired: 0, decisive: 0, monitored: 0 });

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
