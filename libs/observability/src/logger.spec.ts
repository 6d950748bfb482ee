import { Logger, PinoLogger } from 'nestjs-pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withCorrelationId } from './correlation';
import { jsonLogger, TextLogger } from './logger';

// nestjs-pino keeps one root logger per process, as the services do: the first one built is every test's.
const written: string[] = [];
const sut = new Logger(
  new PinoLogger({
    pinoHttp: { logger: jsonLogger('info', { write: (l: string) => void written.push(l) }) },
  }),
  {},
);
const lines = () => written.splice(0).map((l) => JSON.parse(l) as Record<string, unknown>);

describe(jsonLogger.name, () => {
  it('writes Nest log calls as JSON lines, with the correlation id of what is being handled', async () => {
    sut.log('started', 'Boot');
    await withCorrelationId('c-1', async () => {
      await Promise.resolve();
      sut.warn('slow upstream', 'Access');
    });
    sut.debug('not at info', 'Boot');
    const [started, warned, ...rest] = lines();
    expect(rest).toEqual([]);
    expect(started).toMatchObject({ level: 'info', context: 'Boot', msg: 'started', pid: process.pid });
    expect(started).not.toHaveProperty('correlationId');
    expect(typeof started!.time).toBe('number');
    expect(warned).toMatchObject({
      level: 'warn',
      context: 'Access',
      correlationId: 'c-1',
      msg: 'slow upstream',
    });
  });

  it('keeps the fields of a logged object in their order, the correlation id once', () => {
    withCorrelationId('c-2', () =>
      sut.log({ msg: 'request', correlationId: 'c-2', path: '/p', route: 'r', status: 200 }, 'Access'),
    );
    expect(written[0]).toContain('"path":"/p","route":"r","status":200');
    expect(written[0]!.match(/"correlationId"/g)).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ context: 'Access', correlationId: 'c-2', msg: 'request' });
  });
});

describe(TextLogger.name, () => {
  afterEach(() => vi.restoreAllMocks());

  it('names the correlation id after the context', () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    const sut = new TextLogger('test', { logLevels: ['log'], colors: false });
    withCorrelationId('c-3', () => sut.log('handled', 'Access'));
    sut.log('idle', 'Access');
    expect(out[0]).toContain('[Access] (c-3) handled');
    expect(out[1]).toContain('[Access] idle');
  });
});
