import { describe, expect, it } from 'vitest';
import type { StoredVersion } from './policy-store.service';
import { summaryOf } from './version-summary';

type Stored = Omit<StoredVersion, 'document'>;

function stored(over: Partial<Stored>): Stored {
  return {
    version: 2,
    hash: 'b'.repeat(64),
    changes: [],
    author: 'admin',
    source: 'api',
    restores: null,
    comment: null,
    createdAt: '2025-06-01T00:00:00.000Z',
    ...over,
  };
}

describe(summaryOf.name, () => {
  it('summarises the changes, without the document', () => {
    const sut = summaryOf(
      stored({
        changes: [{ path: 'risk.thresholds.medium', op: 'changed', from: 30, to: 40 }],
        comment: 'c',
      }),
    );
    expect(sut).toEqual({
      version: 2,
      hash: 'b'.repeat(64),
      author: 'admin',
      source: 'api',
      restores: null,
      comment: 'c',
      createdAt: '2025-06-01T00:00:00.000Z',
      summary: 'risk.thresholds.medium 30 → 40',
      changeCount: 1,
    });
  });

  it('calls version 1 the first version rather than listing every key as added', () => {
    const first = stored({ version: 1, changes: [{ path: 'policy', op: 'added', to: {} }] });
    expect(summaryOf(first).summary).toBe('first version');
    expect(summaryOf(stored({ changes: [] })).summary).toBe('no changes');
  });
});
