import { describe, expect, it } from 'vitest';
import {
  coldStartWeight,
  floorAtZero,
  globalProbability,
  likelihoodSignals,
  subjectProbability,
  weighFeatures,
} from './likelihood';
import { NONE } from './observation';
import {
  anObservation,
  aPopulation,
  aProfile,
  DEFAULT_POLICY,
  FIREFOX_LINUX,
  historyOf,
  noFeatures,
} from './scoring.fixtures';
import type { ModelSettings, Population } from './scoring.types';

const MODEL = DEFAULT_POLICY.model;
const HOME = anObservation('81.2.69.142');
const ABROAD = anObservation('1.1.1.1', FIREFOX_LINUX);
const onlyCountry: ModelSettings = {
  ...MODEL,
  features: {
    ...MODEL.features,
    network: 0,
    block: 0,
    region: 0,
    city: 0,
    browser: 0,
    os: 0,
    device_type: 0,
  },
};
const sum = (signals: { weight: number }[]) => signals.reduce((s, x) => s + x.weight, 0);

describe('likelihood model', () => {
  describe('probabilities', () => {
    it('smooths the global distribution add-one over the values seen plus an unseen one', () => {
      expect(globalProbability({ count: 9, total: 100, distinct: 9 })).toBeCloseTo(10 / 110, 12);
      expect(globalProbability({ count: 0, total: 0, distinct: 0 })).toBe(1);
    });

    it("backs an unseen value off to its global share, scaled by the subject's history", () => {
      expect(subjectProbability(0, 9, 0.2, 1)).toBeCloseTo(0.02, 12);
      expect(subjectProbability(9, 9, 0.2, 1)).toBeCloseTo(0.92, 12);
      expect(subjectProbability(0, 0, 0.2, 1)).toBeCloseTo(0.2, 12);
    });
  });

  describe(weighFeatures.name, () => {
    const population: Population = aPopulation(10, 1000, 50);

    it('gives no evidence either way for a subject without history', () => {
      const evidence = weighFeatures(ABROAD, aProfile(), population, MODEL);
      expect(evidence.map((e) => e.bits)).toEqual(evidence.map(() => 0));
    });

    it('points at an attacker for values new to a subject with history, more with more history', () => {
      const bits = (n: number) =>
        weighFeatures(ABROAD, aProfile({ features: historyOf(HOME, n) }), population, onlyCountry)[0]!.bits;
      expect(bits(3)).toBeCloseTo(2, 12); // log2((3 + 1) / 1)
      expect(bits(31)).toBeCloseTo(5, 12);
      expect(bits(10_000)).toBe(MODEL.maxBits); // clipped
    });

    it('points at the subject for its usual values, more for values rare in the population', () => {
      const profile = aProfile({ features: historyOf(HOME, 20) });
      const common = weighFeatures(HOME, profile, aPopulation(500, 1000, 5), onlyCountry)[0]!.bits;
      const rare = weighFeatures(HOME, profile, aPopulation(5, 1000, 50), onlyCountry)[0]!.bits;
      expect(common).toBeLessThan(0);
      expect(rare).toBeLessThan(common);
      expect(rare).toBe(MODEL.minBits); // clipped
    });

    it('skips features not observed (no user agent in hand) and features weighted 0', () => {
      const noGeo = anObservation('127.0.0.1', null);
      expect(weighFeatures(noGeo, aProfile(), population, MODEL).map((e) => e.feature)).toEqual([
        'network',
        'block',
        'country',
        'region',
        'city',
      ]);
      expect(weighFeatures(HOME, aProfile(), population, onlyCountry).map((e) => e.feature)).toEqual([
        'country',
      ]);
    });

    it('weighs a missing value as a value of its own: never a free pass, familiar only to who never sends one', () => {
      const bare = anObservation('81.2.69.142', '');
      const browserBits = (history: ReturnType<typeof historyOf>) =>
        weighFeatures(bare, aProfile({ historySize: 20, features: history }), population, MODEL).find(
          (e) => e.feature === 'browser',
        )!;
      // Always Chrome, now no browser: as new to the subject as any browser it never used.
      const stripped = browserBits(historyOf(HOME, 20));
      expect(stripped).toMatchObject({ value: NONE, subjectCount: 0 });
      expect(stripped.bits).toBeGreaterThan(0);
      expect(stripped.bits).toBe(
        weighFeatures(
          ABROAD,
          aProfile({ historySize: 20, features: historyOf(HOME, 20) }),
          population,
          MODEL,
        ).find((e) => e.feature === 'browser')!.bits,
      );
      // A client that never sends one: its usual.
      expect(browserBits(historyOf(bare, 20)).bits).toBeLessThan(0);
    });
  });

  describe(likelihoodSignals.name, () => {
    const population = aPopulation(10, 1000, 50);

    it('says how much history it had, at weight 0', () => {
      const [history] = likelihoodSignals(HOME, aProfile({ historySize: 12 }), population, MODEL);
      expect(history).toEqual({ name: 'history', weight: 0, detail: '12 allowed accesses learned' });
    });

    it('explains each feature: the value against the usual ones, the population share, the bits', () => {
      const profile = aProfile({ historySize: 31, features: historyOf(HOME, 31) });
      const signals = likelihoodSignals(ABROAD, profile, population, onlyCountry);
      expect(signals[1]).toEqual({
        name: 'model_country',
        weight: 10,
        detail: 'country AU: new for the subject (usual: GB ×31); 1.0% of the population; +5.0 bits',
      });
    });

    it('adds up familiar and novel features, but never below 0 (it must not lower the rule signals)', () => {
      const profile = aProfile({ historySize: 20, features: historyOf(HOME, 20) });
      const familiar = likelihoodSignals(HOME, profile, population, MODEL);
      expect(sum(familiar)).toBe(0);
      expect(familiar.find((s) => s.name === 'model_country')).toMatchObject({ weight: 0 });
      expect(familiar.find((s) => s.name === 'model_country')!.detail).toMatch(/scaled to 0\)$/);
      const novel = likelihoodSignals(ABROAD, profile, population, MODEL);
      expect(sum(novel)).toBeGreaterThan(30);
      // Half familiar (the browser), half novel (the place): the familiar half offsets, the rest counts.
      const mixed = likelihoodSignals(anObservation('1.1.1.1'), profile, population, MODEL);
      expect(sum(mixed)).toBeGreaterThan(0);
      expect(sum(mixed)).toBeLessThan(sum(novel));
    });

    it('scales negative points so the total is exactly 0 when they outweigh the positive ones', () => {
      expect(floorAtZero([5, -3])).toEqual([5, -3]);
      expect(floorAtZero([-8, -8])).toEqual([0, 0]);
      for (const points of [
        [7, -8, -8, -3],
        [1, -5, -5, -5],
        [10, 3, -9, -9, -1],
      ]) {
        const scaled = floorAtZero(points);
        expect(scaled.reduce((s, p) => s + p, 0)).toBe(0);
        scaled.forEach((p, i) => expect(Math.sign(p) * Math.sign(points[i]!)).not.toBe(-1));
        expect(scaled.filter((p) => p > 0)).toEqual(points.filter((p) => p > 0));
      }
    });

    describe('cold start', () => {
      const rare = aPopulation(1, 1000, 300);

      it('weighs global rarity fully at no history, fading out at coldStart.history', () => {
        expect(coldStartWeight(0, MODEL)).toBe(1);
        expect(coldStartWeight(2, MODEL)).toBeCloseTo(0.6, 12);
        expect(coldStartWeight(5, MODEL)).toBe(0);
        const fresh = likelihoodSignals(ABROAD, aProfile(), rare, MODEL);
        expect(fresh.filter((s) => s.name.startsWith('rare_'))).toEqual([
          {
            name: 'rare_country',
            weight: 10,
            detail: 'country AU is rare: 0.10% of the population (1 of 1000), below 1.0%',
          },
          expect.objectContaining({ name: 'rare_browser', weight: 10 }),
          expect.objectContaining({ name: 'rare_os', weight: 10 }),
        ]);
        expect(fresh[0]!.detail).toMatch(/cold start \(below 5\): global rarity weighs ×1\.00/);
        const some = likelihoodSignals(ABROAD, aProfile({ historySize: 2 }), rare, MODEL);
        expect(some.filter((s) => s.name === 'rare_country')[0]?.weight).toBe(6);
        const enough = likelihoodSignals(ABROAD, aProfile({ historySize: 5 }), rare, MODEL);
        expect(enough.filter((s) => s.name.startsWith('rare_'))).toEqual([]);
      });

      it('says nothing of rarity while the population is too small to tell', () => {
        const small = aPopulation(1, 50, 30);
        expect(likelihoodSignals(ABROAD, aProfile(), small, MODEL).map((s) => s.name)).toEqual(['history']);
      });

      it('counts common values as nothing', () => {
        const common = aPopulation(300, 1000, 5);
        expect(likelihoodSignals(HOME, aProfile({ features: noFeatures() }), common, MODEL)).toHaveLength(1);
      });
    });

    it('keeps every detail within the contract limit', () => {
      const features = noFeatures();
      for (let i = 0; i < 400; i++) features.country.set(`C${i}`.padEnd(60, 'x'), i + 1);
      const signals = likelihoodSignals(ABROAD, aProfile({ features, historySize: 400 }), population, MODEL);
      for (const s of signals) expect(s.detail.length).toBeLessThanOrEqual(500);
    });
  });
});
