import { describe, expect, it } from 'vitest';
import {
  anObservation,
  CHROME_WINDOWS,
  DEFAULT_POLICY,
  FIREFOX_LINUX,
  NOW,
} from '@stepgate/risk-scoring/testing';
import { NONE } from '@stepgate/risk-scoring';
import {
  PopulationTally,
  velocityEvidence,
  WorkingProfile,
  type AccessRecord,
  type StoredAccess,
  type StoredSighting,
} from './working-set';

const limits = { valuesPerFeature: 50 };

function anAccess(overrides: Partial<AccessRecord> = {}): AccessRecord {
  return {
    eventId: 'e-1',
    subject: 'alice',
    deviceId: 'd-1',
    deviceSource: 'header',
    clientIp: '81.2.69.142',
    userAgent: CHROME_WINDOWS,
    route: 'payments',
    time: NOW,
    ...overrides,
  };
}

function anEmptyProfile(sightings: StoredSighting[] = []): WorkingProfile {
  return new WorkingProfile('alice', 0, null, [], [], sightings, new Map());
}

const emptyPopulation = () => new PopulationTally([], new Map());

describe(WorkingProfile.name, () => {
  it('learns an allowed access: device, history, every value, the place, and new values in the population', () => {
    const sut = anEmptyProfile();
    const population = emptyPopulation();
    const observation = anObservation('81.2.69.142', CHROME_WINDOWS);

    sut.learnAccess(anAccess(), observation, limits, population);

    const profile = sut.snapshot('d-1');
    expect(profile.historySize).toBe(1);
    expect(profile.device).toMatchObject({
      seenCount: 1,
      confirmedAt: null,
      browser: 'Chrome',
      os: 'Windows',
    });
    expect(profile.features.city.get('GB/ENG/London')).toBe(1);
    expect(profile.lastTrusted).toMatchObject({ time: NOW, label: 'GB/ENG/London' });
    expect(sut.accessDelta).toBe(1);
    expect(population.view(observation).country).toEqual({ total: 1, distinct: 1, count: 1 });
  });

  it('lets the next access of the batch see the one before it', () => {
    const sut = anEmptyProfile();
    const population = emptyPopulation();
    const observation = anObservation();
    sut.recordAccess(anAccess(), DEFAULT_POLICY.velocity);
    sut.learnAccess(anAccess(), observation, limits, population);
    sut.learnAccess(anAccess({ eventId: 'e-2', time: NOW + 1000 }), observation, limits, population);

    const profile = sut.snapshot('d-1');
    expect(profile.historySize).toBe(2);
    expect(profile.recent).toHaveLength(1);
    expect(profile.device?.seenCount).toBe(2);
    // A value counts in the population once per subject, however often the subject uses it.
    expect(population.view(observation).country.count).toBe(1);
    expect(sut.learnedSightings().find((s) => s.feature === 'country')).toMatchObject({
      value: 'GB',
      delta: 2,
      count: 2,
    });
  });

  it('keeps the newer context of a device and the newer place when an older access arrives late', () => {
    const sut = anEmptyProfile();
    const population = emptyPopulation();
    sut.learnAccess(
      anAccess({ time: NOW }),
      anObservation('81.2.69.142', CHROME_WINDOWS),
      limits,
      population,
    );
    sut.learnAccess(
      anAccess({ eventId: 'late', time: NOW - 60_000, clientIp: '8.8.8.8', userAgent: FIREFOX_LINUX }),
      anObservation('8.8.8.8', FIREFOX_LINUX),
      limits,
      population,
    );

    const [, device] = sut.learnedDevices()[0]!;
    expect(device).toMatchObject({
      seenDelta: 2,
      firstSeenAt: NOW - 60_000,
      lastSeenAt: NOW,
      lastClientIp: '81.2.69.142',
      browser: 'Chrome',
    });
    expect(sut.lastTrusted?.label).toBe('GB/ENG/London');
  });

  it('never overwrites a learned browser or OS with a missing one; learns "none" as a value of its own', () => {
    const sut = anEmptyProfile();
    const population = emptyPopulation();
    sut.learnAccess(anAccess(), anObservation('81.2.69.142', CHROME_WINDOWS), limits, population);
    const bare = anObservation('81.2.69.142', '');
    sut.learnAccess(anAccess({ eventId: 'e-2', time: NOW + 1000, userAgent: '' }), bare, limits, population);

    expect(sut.snapshot('d-1').device).toMatchObject({ seenCount: 2, browser: 'Chrome', os: 'Windows' });
    expect([...sut.features.browser]).toEqual([
      ['Chrome', 1],
      [NONE, 1],
    ]);
    // An older access that told a family fills one never learned, and never replaces a newer one.
    const late = anEmptyProfile();
    late.learnAccess(anAccess({ userAgent: '' }), bare, limits, population);
    expect(late.snapshot('d-1').device).toMatchObject({ browser: null, os: null });
    late.learnAccess(anAccess({ eventId: 'e-0', time: NOW - 1000 }), anObservation(), limits, population);
    expect(late.snapshot('d-1').device).toMatchObject({ browser: 'Chrome', os: 'Windows', lastSeenAt: NOW });
  });

  it('sights a new device it does not learn: seen, with nothing of its context, and never rewrites a known one', () => {
    const sut = anEmptyProfile();
    const population = emptyPopulation();
    sut.learnAccess(anAccess(), anObservation('81.2.69.142', CHROME_WINDOWS), limits, population);
    // The known device from elsewhere with another browser (a copied id): left exactly as it was.
    sut.sightDevice(anAccess({ eventId: 'e-2', time: NOW + 1000, clientIp: '89.160.20.112', userAgent: '' }));
    const known = new Map(sut.learnedDevices()).get('d-1');
    expect(known).toMatchObject({ seenCount: 1, browser: 'Chrome', lastClientIp: '81.2.69.142' });
    // A device new to the subject: seen, no families, no history, no value learned.
    sut.sightDevice(
      anAccess({ eventId: 'e-3', deviceId: 'd-2', time: NOW + 2000, clientIp: '89.160.20.112' }),
    );
    expect(sut.snapshot('d-2').device).toMatchObject({
      seenCount: 1,
      browser: null,
      os: null,
      confirmedAt: null,
    });
    expect(sut.snapshot('d-2').historySize).toBe(1);
    expect(sut.snapshot('d-2').deviceCount).toBe(2);
    expect([...sut.features.network.keys()]).toEqual(['81.2.69.0/24']);
    expect(
      sut
        .learnedDevices()
        .map(([id]) => id)
        .sort(),
    ).toEqual(['d-1', 'd-2']);
  });

  it("counts the subject's devices: stored ones and those its batch learns first", () => {
    const sut = new WorkingProfile('alice', 5, null, [], [], [], new Map(), 2);
    expect(sut.snapshot(null).deviceCount).toBe(2);
    sut.learnAccess(anAccess({ deviceId: 'd-new' }), anObservation(), limits, emptyPopulation());
    sut.learnAccess(
      anAccess({ deviceId: 'd-new', eventId: 'e-2' }),
      anObservation(),
      limits,
      emptyPopulation(),
    );
    sut.learnAccess(anAccess({ deviceId: null, eventId: 'e-3' }), anObservation(), limits, emptyPopulation());
    expect(sut.snapshot(null).deviceCount).toBe(3);
  });

  it('drops the least recently seen values beyond the limit, and their share of the population', () => {
    const stored = (value: string, last: number): StoredSighting => ({
      feature: 'network',
      value,
      count: 3,
      firstSeenAt: last,
      lastSeenAt: last,
    });
    const sut = anEmptyProfile([stored('10.0.1.0/24', NOW - 2000), stored('10.0.2.0/24', NOW - 1000)]);
    const population = new PopulationTally(
      [{ feature: 'network', value: '10.0.1.0/24', subjects: 5 }],
      new Map([['network', { subjects: 7, distinct: 2 }]]),
    );

    sut.learnAccess(
      anAccess({ clientIp: '81.2.69.142' }),
      anObservation('81.2.69.142'),
      { valuesPerFeature: 2 },
      population,
    );

    expect([...sut.snapshot('d-1').features.network.keys()].sort()).toEqual(['10.0.2.0/24', '81.2.69.0/24']);
    expect(sut.dropped).toEqual([{ feature: 'network', value: '10.0.1.0/24' }]);
    // The dropped value left the population, the new one joined it.
    expect(population.view(anObservation('10.0.1.1')).network).toMatchObject({ count: 4 });
    expect(population.view(anObservation('81.2.69.142')).network).toMatchObject({ count: 1, total: 7 });
  });
});

describe(PopulationTally.name, () => {
  it('tracks distinct values as subjects start and stop using them', () => {
    const sut = new PopulationTally([], new Map());
    sut.add('country', 'GB');
    sut.add('country', 'FR');
    sut.remove('country', 'FR');

    expect(sut.view(anObservation()).country).toEqual({ total: 1, distinct: 1, count: 1 });
  });
});

describe(velocityEvidence.name, () => {
  const velocity = {
    requests: { windowSeconds: 60, max: 3 },
    ips: { windowSeconds: 3600, max: 2 },
    devices: { windowSeconds: 3600, max: 1 },
  };
  const access = (i: number, ip: string, deviceId: string): StoredAccess => ({
    eventId: `e-${i}`,
    time: NOW + i * 1000,
    ip,
    deviceId,
  });

  it('ignores accesses without a device when it fills the distinct-device slots', () => {
    const recent = [
      access(1, '10.0.0.1', 'd1'),
      access(2, '10.0.0.1', 'd2'),
      { ...access(3, '10.0.0.1', 'x'), deviceId: null },
      ...Array.from({ length: 6 }, (_, i) => access(10 + i, '10.0.0.1', 'd1')),
    ];
    const kept = velocityEvidence(recent, velocity);
    expect(new Set(kept.map((a) => a.deviceId).filter((d) => d !== null))).toEqual(new Set(['d1', 'd2']));
  });

  it('keeps the newest requests and the newest access of each of the newest distinct IPs and devices', () => {
    const recent = [
      access(0, '10.0.0.1', 'a'),
      access(1, '10.0.0.2', 'b'),
      access(2, '10.0.0.3', 'c'),
      ...Array.from({ length: 20 }, (_, i) => access(10 + i, '10.0.0.9', 'z')),
    ];

    const kept = velocityEvidence(recent, velocity).map((a) => a.eventId);

    // The newest max + 1 = 4 requests, the newest of max + 1 = 3 distinct IPs, of 2 distinct devices.
    expect(kept).toEqual(['e-29', 'e-28', 'e-27', 'e-26', 'e-2', 'e-1']);
  });

  it('bounds what a busy subject keeps, however long its hour', () => {
    const recent = Array.from({ length: 5000 }, (_, i) => access(i, `10.0.${i % 50}.1`, `d-${i % 7}`));
    expect(velocityEvidence(recent, velocity).length).toBeLessThanOrEqual(4 + 3 + 2);
  });

  it('lets a profile forget the stored rows velocity no longer needs, and not store new ones it drops', () => {
    const stored = Array.from({ length: 10 }, (_, i) => access(i, '10.0.0.9', 'z'));
    const sut = new WorkingProfile('alice', 0, null, stored, [], [], new Map());
    for (let i = 10; i < 40; i++) {
      sut.recordAccess(
        anAccess({ eventId: `e-${i}`, time: NOW + i * 1000, clientIp: '10.0.0.9', deviceId: 'z' }),
        velocity,
      );
    }
    sut.trimVelocity(velocity);

    expect(sut.forgotten.sort()).toEqual(stored.map((a) => a.eventId).sort());
    expect(sut.newAccesses.map((a) => a.eventId)).toEqual(['e-36', 'e-37', 'e-38', 'e-39']);
    expect(sut.snapshot('z').recent).toHaveLength(4);
  });
});
