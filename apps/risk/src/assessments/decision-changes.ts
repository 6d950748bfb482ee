// What gateways must hear about (adr/0019-decision-changes): not every assessment, only those that say a
// decision a gateway may have cached is no longer right. Gateways cache risk's level per context and report
// the level they acted on in each access event; risk scores every access again anyway, so a disagreement
// between the two is exactly a stale cached decision. Under steady traffic from known users the two agree and
// nothing is published: the stream follows changes, not requests.
import type { DecisionChange, RiskLevel } from '@stepgate/contracts';
import type { NewAssessmentRecord } from './assessment.mapping';

/** An assessment risk made, and the level the gateway acted on for the same access (null: none, or not an access). */
export interface Assessed {
  record: NewAssessmentRecord;
  gatewayLevel: RiskLevel | null;
}

/**
 * The changes to publish for assessments made in this order, at most one per subject and device: the newest,
 * at its level when every disagreement of the device in the batch had that level, else with none (gateways
 * keep what matches a change's level, so two levels merged into one would keep a stale entry).
 *
 * - An access: a change when the gateway acted on a level and risk's own score of the access differs. No
 *   change for an access the gateway decided without an assessment (risk unavailable, or unauthenticated).
 * - A challenge result: every cached decision of the subject goes (`level` null). A pass confirms a device
 *   and a failure counts against the subject on every device: either may move any of its contexts.
 */
export function decisionChanges(assessed: readonly Assessed[]): DecisionChange[] {
  const changes = new Map<string, DecisionChange>();
  for (const { record, gatewayLevel } of assessed) {
    if (record.source === 'challenge_outcome') {
      // Supersedes the subject's device-scoped changes in this batch too: they drop a subset of it.
      for (const key of changes.keys()) if (key.startsWith(`${record.subject}\u0000`)) changes.delete(key);
      changes.set(`${record.subject}\u0000*`, change(record, 'challenge_outcome', 'subject', null));
      continue;
    }
    if (record.source !== 'access' || gatewayLevel === null || gatewayLevel === record.level) continue;
    if (changes.get(`${record.subject}\u0000*`)?.level === null) continue;
    const key = `${record.subject}\u0000${record.deviceId ?? ''}`;
    const earlier = changes.get(key);
    // Two contexts of one device moved to different levels: keeping either level would keep a stale entry
    // at it (a gateway keeps what matches), so every decision of the device goes.
    const level = earlier && earlier.level !== record.level ? null : record.level;
    changes.set(key, change(record, 'access', 'device', level));
  }
  return [...changes.values()];
}

function change(
  record: NewAssessmentRecord,
  cause: DecisionChange['cause'],
  scope: DecisionChange['scope'],
  level: RiskLevel | null,
): DecisionChange {
  return {
    // The assessment's id: a redelivered event publishes the same change again, under the same id.
    changeId: record.assessmentId,
    time: new Date(record.time).toISOString(),
    correlationId: record.correlationId,
    causationId: record.causationId ?? record.assessmentId,
    cause,
    scope,
    subject: record.subject,
    deviceId: record.deviceId,
    level,
  };
}
