import { describe, expect, it } from 'vitest';
import { acrRank } from './route-policy';

describe(acrRank.name, () => {
  const levels = ['urn:stepgate:acr:pwd', 'urn:stepgate:acr:mfa', 'urn:stepgate:acr:phr'];

  it('ranks the levels weakest first', () => {
    expect(acrRank(levels, 'urn:stepgate:acr:pwd')).toBe(0);
    expect(acrRank(levels, 'urn:stepgate:acr:phr')).toBe(2);
  });

  it('ranks an absent or unknown acr below every level', () => {
    expect(acrRank(levels, null)).toBe(-1);
    expect(acrRank(levels, 'urn:other:acr:gold')).toBe(-1);
  });
});
