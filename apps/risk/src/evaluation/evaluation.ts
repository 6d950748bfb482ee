// Replays a labelled access stream, in time order, through the risk service's own code (AssessmentService on
// its own database, the in-process bus): each access is scored as the gateway would ask for it, and the
// consequence is fed back the way the gateway and challenge service would, so risk learns exactly as it
// does in production:
//   score < medium          -> allowed: access event `allow` (learned)
//   medium <= score < crit. -> step-up: access event `step_up` (not learned), then
//                                legit: challenge passed (confirms the device) + the retried request `allow` (learned)
//                                attack: challenge failed (weighs on the subject's next accesses)
//   score >= critical       -> denied: access event `deny` (not learned)
// (the payments route of config/stepgate.yaml). Learning happens at the configured thresholds; the curve
// for other thresholds re-reads the same scores.
import { randomUUID } from 'node:crypto';
import type { AccessDecision, AccessEvent, ChallengeOutcome, RiskLevel } from '@stepgate/contracts';
import type { AssessmentService } from '../assessments/assessment.service';
import type { RiskThresholds } from '../scoring/scoring.types';
import { ATTACKERS, type Attacker, type LabelledAccess } from './access-stream';

export interface ScoredAccess {
  score: number;
  level: RiskLevel;
  label: LabelledAccess['label'];
  attacker: Attacker | null;
  /** Accesses the service had learned for the subject before this one. */
  history: number;
  /** Whether the access's device id was known to the service for the subject (a replayed id, for an attack). */
  deviceKnown: boolean;
}

const CHALLENGE_DELAY_MS = 30_000;

export async function replay(
  stream: readonly LabelledAccess[],
  sut: Pick<AssessmentService, 'scoreAt' | 'onAccess' | 'onChallengeOutcome'>,
  thresholds: RiskThresholds,
  progress?: (done: number) => void,
): Promise<ScoredAccess[]> {
  const order = stream
    .map((a, i) => ({ a, i, t: Date.parse(a.time) }))
    .sort((x, y) => x.t - y.t || x.i - y.i);
  const results: ScoredAccess[] = new Array<ScoredAccess>(stream.length);
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
    const { score, level } = await sut.scoreAt({
      subject: a.subject,
      deviceId: a.deviceId,
      clientIp: a.ip,
      userAgent: a.userAgent,
      route: 'payments',
      time: t,
    });
    results[i] = {
      score,
      level,
      label: a.label,
      attacker: a.label === 'attack' ? (a.attacker ?? null) : null,
      history: history.get(a.subject) ?? 0,
      deviceKnown: a.deviceId !== null && knownDevices(a.subject).has(a.deviceId),
    };
    const decision: AccessDecision =
      score >= thresholds.critical ? 'deny' : score >= thresholds.medium ? 'step_up' : 'allow';
    await sut.onAccess(accessEvent(a, t, decision, score, level));
    if (decision === 'allow') learned(a.subject, a.deviceId);
    if (decision !== 'step_up') continue;
    const passed = a.label === 'legit';
    await sut.onChallengeOutcome(outcome(a, t + CHALLENGE_DELAY_MS, passed));
    if (passed) {
      if (a.deviceId !== null) knownDevices(a.subject).add(a.deviceId);
      await sut.onAccess(accessEvent(a, t + CHALLENGE_DELAY_MS + 1000, 'allow', score, level));
      learned(a.subject, a.deviceId);
    }
  }
  return results;
}

function accessEvent(
  a: LabelledAccess,
  time: number,
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
    clientIp: a.ip,
    userAgent: a.userAgent,
    method: 'POST',
    host: 'eval.stepgate',
    path: '/api/payments/1',
    route: 'payments',
    decision,
    reason: `risk ${level}`,
    status: decision === 'allow' ? 200 : decision === 'deny' ? 403 : 401,
    riskScore: score,
    riskLevel: level,
    acr: decision === 'allow' && level !== 'low' ? 'urn:stepgate:acr:mfa' : null,
    policyVersion: null,
  };
}

function outcome(a: LabelledAccess, time: number, passed: boolean): ChallengeOutcome {
  return {
    challengeId: randomUUID(),
    time: new Date(time).toISOString(),
    correlationId: randomUUID(),
    subject: a.subject,
    deviceId: a.deviceId,
    method: 'totp',
    result: passed ? 'passed' : 'failed',
    attemptsLeft: passed ? 4 : 3,
  };
}

// --- the report -------------------------------------------------------------------------------------------

export type AttackerShares = Record<'naive' | 'vpn' | 'targeted' | 'very_targeted', number | null>;
export interface LegitShares {
  history_0: number | null;
  history_1_9: number | null;
  history_10_plus: number | null;
}
export interface CurvePoint {
  threshold: number;
  caught: AttackerShares;
  legit_stepped_up: LegitShares;
}

const KEY: Record<Attacker, keyof AttackerShares> = {
  naive: 'naive',
  vpn: 'vpn',
  targeted: 'targeted',
  'very-targeted': 'very_targeted',
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
  const buckets: (keyof LegitShares)[] = ['history_0', 'history_1_9', 'history_10_plus'];
  const legit_stepped_up = Object.fromEntries(
    buckets.map((b) => [
      b,
      share(
        legit.filter((s) => historyBucket(s.history) === b),
        threshold,
      ),
    ]),
  ) as unknown as LegitShares;
  return { threshold, caught, legit_stepped_up };
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
