import { describe, expect, it } from 'vitest';
import { accessEvent } from './access/access.event';
describe('x', () => {
  it('y', () => {
    expect(accessEvent.safeParse({}).success).toBe(false);
  });
});
