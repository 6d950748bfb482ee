import type { AccessEvent, ChallengeOutcome } from '@stepgate/contracts';
import { describe, expect, it } from 'vitest';
import { replayPlan, type ReplayStep } from './kafka-replay';

const at = (minute: number) => new Date(Date.UTC(2026, 4, 1, 0, minute)).toISOString();

const access = (id: string, subject: string | null, minute: number) =>
  ({ eventId: id, subject, time: at(minute) }) as AccessEvent;
const outcome = (id: string, subject: string, minute: number) =>
  ({ challengeId: id, subject, time: at(minute) }) as ChallengeOutcome;

/** Steps as `a1,a2 | o1 | a3`. */
const shape = (steps: ReplayStep[]) =>
  steps
    .map((s) => (s.kind === 'accesses' ? s.events.map((e) => e.eventId).join(',') : s.outcome.challengeId))
    .join(' | ');

describe(replayPlan.name, () => {
  it('puts events in time order, and cuts a chunk at an outcome only for an access of its subject', () => {
    const sut = replayPlan({
      // As read: partitions interleaved, not in time order.
      accesses: [
        access('a4', 'bob', 4),
        access('a1', 'alice', 1),
        access('a2', 'bob', 2),
        access('a5', 'alice', 5),
      ],
      outcomes: [outcome('o-alice', 'alice', 3), outcome('o-carol', 'carol', 2)],
    });
    // o-carol goes ahead of the chunk (no access of carol in it); o-alice between alice's a1 and a5.
    expect(shape(sut.steps)).toBe('o-carol | a1,a2 | o-alice | a4,a5');
    expect(sut).toMatchObject({ accesses: 4, outcomes: 2, mostPerSubject: 2 });
  });

  it('applies an outcome before an access of the same instant, keeps the read order of equal times', () => {
    const sut = replayPlan({
      accesses: [access('a1', 'alice', 1), access('a2', 'alice', 2), access('a3', 'alice', 2)],
      outcomes: [outcome('o1', 'alice', 2)],
    });
    expect(shape(sut.steps)).toBe('a1 | o1 | a2,a3');
  });

  it('feeds nothing from --to on, and chunks of at most `chunk`', () => {
    const sut = replayPlan(
      {
        accesses: [1, 2, 3, 4, 5].map((m) => access(`a${m}`, m === 3 ? null : `s${m}`, m)),
        outcomes: [outcome('o6', 's1', 6)],
      },
      { to: Date.parse(at(5)), chunk: 2 },
    );
    expect(shape(sut.steps)).toBe('a1,a2 | a3,a4');
    expect(sut).toMatchObject({ accesses: 4, outcomes: 0, mostPerSubject: 1 });
  });
});
