import { describe, expect, it } from 'vitest';
import { published, RiskModel } from '@stepgate/risk-scoring';
import {
  aContext,
  anObservation,
  aPopulation,
  aProfile,
  DEFAULT_POLICY,
} from '@stepgate/risk-scoring/testing';
import { RiskMetrics } from './risk.metrics';

describe('monitored signals', () => {
  it('are published at weight 0 with what they would have added, and counted by effect', async () => {
    const model = new RiskModel({ ...DEFAULT_POLICY, monitor: new Set(['new_device']) });
    // A device never seen: 50 points, medium, if enforced.
    const score = model.score(aContext(), aProfile(), anObservation(), aPopulation(50, 100, 2));
    expect(score.level).toBe('low');
    expect(published(score.signals)).toContainEqual({
      name: 'new_device',
      weight: 0,
      detail: 'monitor: would add 50 points: device d-1 (X-Device-Id header) never seen for this subject',
    });
    expect(score.monitored).toEqual([{ name: 'new_device', points: 50, raisesLevel: true }]);

    const sut = new RiskMetrics();
    sut.countMonitored(score.monitored);
    sut.countMonitored([{ name: 'velocity_ips', points: 20, raisesLevel: false }]);
    sut.countMonitored(undefined);
    const text = await sut.registry.metrics();
    expect(text).toMatch(
      /^stepgate_risk_monitored_signals_total\{signal="new_device",effect="would_raise_level"[^}]*\} 1$/m,
    );
    expect(text).toMatch(
      /^stepgate_risk_monitored_signals_total\{signal="velocity_ips",effect="no_level_change"[^}]*\} 1$/m,
    );
  });
});
