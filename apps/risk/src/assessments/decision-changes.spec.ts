import { describe, expect, it } from 'vitest';
import type { NewAssessmentRecord } from './assessment.mapping';
import { decisionChanges } from './decision-changes';

let n = 0;
const record = (over: Partial<NewAssessmentRecord> = {}): NewAssessmentRecord => {
  n++;
  return {
    assessmentId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    subject: 'alice',
    deviceId: 'd1',
    time: 0,
    clientIp: '10.0.0.1',
    source: 'access',
    correlationId: '00000000-0000-4000-8000-100000000000',
    causationId: `00000000-0000-4000-8000-2${String(n).padStart(11, '0')}`,
    route: 'payments',
    decision: 'allow',
    score: 5,
    level: 'low',
    signals: [],
    deviceStatus: 'confirmed',
    modelVersion: 't',
    ...over,
  };
};

describe(decisionChanges.name, () => {
  it('says nothing while risk agrees with the level the gateway acted on: steady traffic is silent', () => {
    const assessed = Array.from({ length: 100 }, () => ({ record: record(), gatewayLevel: 'low' as const }));
    expect(decisionChanges(assessed)).toEqual([]);
  });

  it('says nothing for an access the gateway decided without an assessment', () => {
    expect(decisionChanges([{ record: record({ level: 'high' }), gatewayLevel: null }])).toEqual([]);
  });

  it('announces a disagreement for the device, once per subject and device, at the newest level', () => {
    const first = record({ level: 'high' });
    const second = record({ level: 'high' });
    const otherDevice = record({ deviceId: 'd2', level: 'medium' });
    const changes = decisionChanges([
      { record: first, gatewayLevel: 'low' },
      { record: otherDevice, gatewayLevel: 'low' },
      { record: second, gatewayLevel: 'medium' },
    ]);
    expect(changes).toEqual([
      expect.objectContaining({
        changeId: second.assessmentId,
        causationId: second.causationId,
        cause: 'access',
        scope: 'device',
        subject: 'alice',
        deviceId: 'd1',
        level: 'high',
      }),
      expect.objectContaining({ scope: 'device', deviceId: 'd2', level: 'medium' }),
    ]);
  });

  it('drops every decision of a device when its contexts moved to different levels in one batch', () => {
    // The victim's context was cached low and is medium now; another context of the device was cached
    // medium and is low now. "Keep low" would keep the victim's stale low, "keep medium" the other's.
    const changes = decisionChanges([
      { record: record({ level: 'medium', clientIp: '10.0.0.1' }), gatewayLevel: 'low' },
      { record: record({ level: 'low', clientIp: '10.9.9.9' }), gatewayLevel: 'medium' },
    ]);
    expect(changes).toEqual([expect.objectContaining({ scope: 'device', deviceId: 'd1', level: null })]);
  });

  it('drops every cached decision of the subject after a challenge result, superseding its device changes', () => {
    const outcome = record({ source: 'challenge_outcome', route: null, decision: null, level: 'low' });
    const changes = decisionChanges([
      { record: record({ level: 'medium' }), gatewayLevel: 'low' },
      { record: record({ subject: 'bob', level: 'medium' }), gatewayLevel: 'low' },
      { record: outcome, gatewayLevel: null },
      // After the outcome: already covered by dropping everything of alice's.
      { record: record({ level: 'high' }), gatewayLevel: 'low' },
    ]);
    expect(changes).toEqual([
      expect.objectContaining({ subject: 'bob', scope: 'device', level: 'medium' }),
      expect.objectContaining({
        subject: 'alice',
        scope: 'subject',
        cause: 'challenge_outcome',
        level: null,
        causationId: outcome.causationId,
      }),
    ]);
  });
});
