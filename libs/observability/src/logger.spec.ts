import { afterEach, describe, expect, it, vi } from 'vitest';
import { JsonLinesLogger } from './logger';

describe(JsonLinesLogger.name, () => {
  afterEach(() => vi.restoreAllMocks());

  it('joins the lines of a tick into one write, and keeps their order with errors', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
    const sut = new JsonLinesLogger('test', ['log', 'error']);
    sut.log({ msg: 'request', n: 1 });
    sut.log({ msg: 'request', n: 2 });
    expect(out).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(out).toHaveLength(1);
    expect(
      out[0]!
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { message: { n: number } }).message.n),
    ).toEqual([1, 2]);
    sut.log('before the error');
    sut.error('boom');
    expect(out).toHaveLength(2);
    expect(out[1]).toContain('before the error');
    expect(err[0]).toContain('boom');
  });
});
