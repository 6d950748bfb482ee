// Replays a labelled access stream, in time order, through the risk service's own code (AssessmentService on
// its own database, the in-process bus): each access is scored as the gateway would ask for it, and the
// consequence is fed back the way the gateway and challenge service would, so risk learns exactly as it
// does in production (it decides what it learns from its own score: assessments/learning.ts):
//   the route allows at the level   -> access event `allow`
//   the route steps up at the level -> access event `step_up`, then
//                                        legit: challenge passed at the level's acr (confirms the device) +
//                                               the retried request `allow`, stepped up with that acr
//                                        attack: challenge failed (weighs on the subject's next accesses)
//   the route denies at the level   -> access event `deny`
// on the payments route of the policy in force. Learning happens at the configured thresholds; the curve for
// other thresholds re-reads the same scores.
import { randomUUID } from 'node:crypto';
import type {
  AccessDecision,
  AccessEvent,
  ChallengeOutcome,
  DeviceSource,
  RiskLevel,
} from '@stepgate/contracts';
import { requiredAcr } from '@stepgate/policy';
import type { AssessmentService } from '../../../apps/risk/src/assessments/assessment.service';
import type { RouteView } from '@stepgate/policy';
import { ATTACKERS, COHORTS, type Attacker, type Cohort, type LabelledAccess } from './access-stream';

export interface ScoredAccess {
  score: number;
  level: RiskLevel;
  label: LabelledAccess['label'];
  attacker: Attacker | null;
  /** For a legitimate access, its kind (browser unless the stream says otherwise). */
  cohort: Cohort | null;
  /** Accesses the service had learned for the subject before this one. */
  history: number;
  /** Whether the access's device id was known to the service for the subject (a replayed id, for an attack). */
  deviceKnown: boolean;
}

/** What the replay asks of the route the stream is scored for. */
export type EvaluatedRoute = Pick<RouteView, 'id' | 'decisions' | 'stepUp'>;

const CHALLENGE_DELAY_MS = 30_000;

export async function replay(
  stream: readonly LabelledAccess[],
  sut: Pick<AssessmentService, 'scoreAt' | 'onAccess' | 'onChallengeOutcome'>,
  route: EvaluatedRoute,
  progress?: (done: number) => void,
): Promise<ScoredAccess[]> {
  const order = stream
    .map((a, i) => ({ a, i, t: Date.parse(a.time) }))
    .sort((x, y) => x.t - y.t || x.i - y.i);
  const results: ScoredAccess[] = new Array<ScoredAccess>(stream.length);
  // What the harness believes the service learned (for the report's history buckets); the service decides.
  const history = new Map<string, number>();
  const devices = new Map<string, Set<string>>();
  const learned = (subject: string, deviceId: string | null) => {
    history.set(subject, (history.get(subject) ?? 0) + 1);
    if (deviceId !== null) knownDevices(subject).add(deviceId);
  };
  const knownDevices = (subject: string) => {
    let set = devices.get(subject);
    if (!set) devices.set(subject, (set = new Set()));
    return set;
  };

  for (const [done, { a, i, t }] of order.entries()) {
    if (progress && done > 0 && done % 2000 === 0) progress(done);
    const source = sourceOf(a);
    const { score, level } = await sut.scoreAt({
      subject: a.subject,
      deviceId: a.deviceId,
      deviceSource: source,
      clientIp: a.ip,
      userAgent: a.userAgent,
      route: route.id,
      time: t,
    });
    results[i] = {
      score,
      level,
      label: a.label,
      attacker: a.label === 'attack' ? (a.attacker ?? null) : null,
      cohort: a.label === 'legit' ? (a.cohort ?? 'browser') : null,
      history: history.get(a.subject) ?? 0,
      deviceKnown: a.deviceId !== null && knownDevices(a.subject).has(a.deviceId),
    };
    const decision: AccessDecision = route.decisions[level];
    await sut.onAccess(accessEvent(a, source, t, route.id, decision, score, level));
    if (decision === 'allow') learned(a.subject, a.deviceId);
    if (decision !== 'step_up') continue;
    const passed = a.label === 'legit';
    const acr = route.stepUp ? requiredAcr(route.stepUp, level) : null;
    await sut.onChallengeOutcome(outcome(a, t + CHALLENGE_DELAY_MS, passed, acr));
    if (passed) {
      if (a.deviceId !== null) knownDevices(a.subject).add(a.deviceId);
      await sut.onAccess({
        ...accessEvent(a, source, t + CHALLENGE_DELAY_MS + 1000, route.id, 'allow', score, level),
        steppedUp: true,
        acr,
      });
      learned(a.subject, a.deviceId);
    }
  }
  return results;
}

/** A device id is a browser's cookie unless the stream says where it came from. */
const sourceOf = (a: LabelledAccess): DeviceSource | null =>
  a.deviceId === null ? null : (a.deviceSource ?? 'cookie');

function accessEvent(
  a: LabelledAccess,
  deviceSource: DeviceSource | null,
  time: number,
  route: string,
  decision: AccessDecision,
  score: number,
  level: RiskLevel,
): AccessEvent {
  return {
    eventId: randomUUID(),
    time: new Date(time).toISOString(),
    correlationId: randomUUID(),
    subject: a.subject,
    sessionId: null,
    deviceId: a.deviceId,
    deviceSource,
    clientIp: a.ip,
    userAgent: a.userAgent,
    method: 'POST',
    host: 'eval.stepgate',
    path: `/api/${route}/1`,
    route,
    decision,
    reason: `risk ${level}`,
    status: decision === 'allow' ? 200 : decision === 'deny' ? 403 : 401,
    riskScore: score,
    riskLevel: level,
    acr: null,
    policyVersion: null,
    monitored: false,
    steppedUp: false,
  };
}

/** A passkey where the level asks for a phishing-resistant acr, an authenticator app otherwise. */
function outcome(a: LabelledAccess, time: number, passed: boolean, acr: string | null): ChallengeOutcome {
  return {
    challengeId: randomUUID(),
    time: new Date(time).toISOString(),
    correlationId: randomUUID(),
    subject: a.subject,
    deviceId: a.deviceId,
    method: acr?.endsWith(':phr') ? 'webauthn' : 'totp',
    result: passed ? 'passed' : 'failed',
    attemptsLeft: passed ? 4 : 3,
  };
}

// --- the report -------------------------------------------------------------------------------------------

export type AttackerShares = Record<
  'naive' | 'vpn' | 'targeted' | 'very_targeted' | 'replay_foreign',
  number | null
>;
export interface LegitShares {
  history_0: number | null;
  history_1_9: number | null;
  history_10_plus: number | null;
}
export type CohortShares = Record<'browser' | 'api' | 'cookie_clear', number | null>;
export interface CurvePoint {
  threshold: number;
  caught: AttackerShares;
  legit_stepped_up: LegitShares;
  /** Legitimate accesses stepped up per kind (browser, API client, first access after a cookie clear). */
  legit_stepped_up_by_cohort: CohortShares;
}

const KEY: Record<Attacker, keyof AttackerShares> = {
  naive: 'naive',
  vpn: 'vpn',
  targeted: 'targeted',
  'very-targeted': 'very_targeted',
  'replay-foreign': 'replay_foreign',
};
const COHORT_KEY: Record<Cohort, keyof CohortShares> = {
  browser: 'browser',
  api: 'api',
  'cookie-clear': 'cookie_clear',
};

/** Share of `items` scoring at or above the threshold; null when there are none. */
function share(items: ScoredAccess[], threshold: number): number | null {
  if (items.length === 0) return null;
  return round4(items.filter((x) => x.score >= threshold).length / items.length);
}

export const historyBucket = (h: number): keyof LegitShares =>
  h === 0 ? 'history_0' : h < 10 ? 'history_1_9' : 'history_10_plus';

export function pointAt(scored: ScoredAccess[], threshold: number): CurvePoint {
  const attacks = scored.filter((s) => s.label === 'attack');
  const legit = scored.filter((s) => s.label === 'legit');
  const caught = Object.fromEntries(
    ATTACKERS.map((m) => [
      KEY[m],
      share(
        attacks.filter((s) => s.attacker === m),
        threshold,
      ),
    ]),
  ) as AttackerShares;
  return {
    threshold,
    caught,
    legit_stepped_up: byHistory(legit, threshold),
    legit_stepped_up_by_cohort: Object.fromEntries(
      COHORTS.map((c) => [
        COHORT_KEY[c],
        share(
          legit.filter((s) => s.cohort === c),
          threshold,
        ),
      ]),
    ) as CohortShares,
  };
}

function byHistory(legit: ScoredAccess[], threshold: number): LegitShares {
  const buckets: (keyof LegitShares)[] = ['history_0', 'history_1_9', 'history_10_plus'];
  return Object.fromEntries(
    buckets.map((b) => [
      b,
      share(
        legit.filter((s) => historyBucket(s.history) === b),
        threshold,
      ),
    ]),
  ) as unknown as LegitShares;
}

/** Legitimate accesses stepped up per kind and history: where the cost falls. */
export function legitByCohort(
  scored: ScoredAccess[],
  threshold: number,
): Record<keyof CohortShares, LegitShares> {
  const legit = scored.filter((s) => s.label === 'legit');
  return Object.fromEntries(
    COHORTS.map((c) => [
      COHORT_KEY[c],
      byHistory(
        legit.filter((s) => s.cohort === c),
        threshold,
      ),
    ]),
  ) as Record<keyof CohortShares, LegitShares>;
}

export function counts(scored: ScoredAccess[]) {
  const attacks = scored.filter((s) => s.label === 'attack');
  const legit = scored.filter((s) => s.label === 'legit');
  return {
    accesses: scored.length,
    legit: {
      total: legit.length,
      history_0: legit.filter((s) => s.history === 0).length,
      history_1_9: legit.filter((s) => s.history > 0 && s.history < 10).length,
      history_10_plus: legit.filter((s) => s.history >= 10).length,
      ...Object.fromEntries(COHORTS.map((c) => [COHORT_KEY[c], legit.filter((s) => s.cohort === c).length])),
    },
    attack: {
      total: attacks.length,
      ...Object.fromEntries(ATTACKERS.map((m) => [KEY[m], attacks.filter((s) => s.attacker === m).length])),
      unlabelled_model: attacks.filter((s) => s.attacker === null).length,
      with_known_device_id: attacks.filter((s) => s.deviceKnown).length,
    },
  };
}

/** Caught per attacker model among attacks that replayed a device id the service knew, and those that did not. */
export function caughtByDevice(scored: ScoredAccess[], threshold: number) {
  const attacks = scored.filter((s) => s.label === 'attack');
  return {
    device_id_known: pointAt(
      attacks.filter((s) => s.deviceKnown),
      threshold,
    ).caught,
    device_id_new: pointAt(
      attacks.filter((s) => !s.deviceKnown),
      threshold,
    ).caught,
  };
}

/** The threshold that steps up at least `target` of naive, vpn and targeted accesses (the highest such). */
export function thresholdFor(curve: CurvePoint[], target: number): CurvePoint | null {
  const models = ['naive', 'vpn', 'targeted'] as const;
  const ok = curve.filter(
    (p) =>
      models.some((k) => p.caught[k] !== null) &&
      models.every((k) => p.caught[k] === null || p.caught[k] >= target),
  );
  return ok.length === 0 ? null : ok[ok.length - 1]!;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
