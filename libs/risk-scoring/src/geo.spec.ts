import { describe, expect, it } from 'vitest';
import { distanceKm, minimumTravelKm } from './geo';

const LONDON = { lat: 51.5074, lon: -0.1278 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };

describe(distanceKm.name, () => {
  it('measures the great circle (London to New York is about 5,570 km)', () => {
    expect(distanceKm(LONDON, NEW_YORK)).toBeGreaterThan(5550);
    expect(distanceKm(LONDON, NEW_YORK)).toBeLessThan(5590);
  });

  it('is 0 for one point and symmetric', () => {
    expect(distanceKm(LONDON, LONDON)).toBe(0);
    expect(distanceKm(LONDON, NEW_YORK)).toBeCloseTo(distanceKm(NEW_YORK, LONDON), 6);
  });
});

describe(minimumTravelKm.name, () => {
  it('takes both accuracy radii off the distance', () => {
    const d = distanceKm(LONDON, NEW_YORK);
    expect(minimumTravelKm({ ...LONDON, accuracyKm: 100 }, { ...NEW_YORK, accuracyKm: 1000 })).toBeCloseTo(
      d - 1100,
      6,
    );
  });

  it('is 0 when the radii overlap', () => {
    expect(minimumTravelKm({ ...LONDON, accuracyKm: 3000 }, { ...NEW_YORK, accuracyKm: 3000 })).toBe(0);
  });
});
