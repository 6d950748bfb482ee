import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closest } from './config.issues';
import { ConfigError, parseConfig, validateConfig } from './config.loader';

const schema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1),
    port: z.coerce.number().int().min(1).max(65535),
    limits: z.strictObject({ maxBodyBytes: z.int().positive(), timeoutMs: z.int().positive() }).optional(),
  }),
  routes: z.array(
    z.strictObject({
      id: z.string(),
      match: z.strictObject({ path: z.string().optional(), prefix: z.string().optional() }),
    }),
  ),
});

function issuesOf(text: string, env: Record<string, string> = {}) {
  const result = validateConfig(schema, text, { env });
  if (result.ok) throw new Error('expected problems');
  return result.issues;
}

describe(validateConfig.name, () => {
  it('accepts a valid file, with ${ENV} references interpolated before validation', () => {
    const text = 'server: { host: h, port: "${PORT:-8080}" }\nroutes: []\n';
    expect(validateConfig(schema, text, { env: {} })).toEqual({
      ok: true,
      value: { server: { host: 'h', port: 8080 }, routes: [] },
    });
    expect(parseConfig(schema, text, { source: 'x', env: { PORT: '9' } }).server.port).toBe(9);
  });

  it('reports every problem, in file order, at the line and column of the offending value', () => {
    const text = [
      'server:', //                1
      '  host: ""', //             2
      '  port: 70000', //          3
      '  limits:', //              4
      '    maxBodyBytes: -1', //   5
      '    timeoutMs: soon', //    6
      'routes:', //                7
      '  - id: 1', //              8
      '    match: { path: 7 }', // 9
    ].join('\n');
    expect(issuesOf(text).map(({ path, line, col }) => ({ path: path?.join('.'), line, col }))).toEqual([
      { path: 'server.host', line: 2, col: 9 },
      { path: 'server.port', line: 3, col: 9 },
      { path: 'server.limits.maxBodyBytes', line: 5, col: 19 },
      { path: 'server.limits.timeoutMs', line: 6, col: 16 },
      { path: 'routes.0.id', line: 8, col: 9 },
      { path: 'routes.0.match.path', line: 9, col: 20 },
    ]);
  });

  it('reports each unknown key at the key, with the key it most likely meant', () => {
    const text = [
      'server:',
      '  host: h',
      '  port: 1',
      '  limits: { maxBodyByte: 1, timeoutMs: 2, TimeoutMS: 3, colour: red }',
      'routes:',
      '  - id: a',
      '    match: { prefix: /a, prefx: /b }',
      'rotues: []',
    ].join('\n');
    expect(issuesOf(text)).toEqual([
      { path: ['server', 'limits', 'maxBodyBytes'], message: 'required key is missing', line: 4, col: 3 },
      {
        path: ['server', 'limits', 'maxBodyByte'],
        message: 'unknown key "maxBodyByte" (did you mean "maxBodyBytes"?)',
        line: 4,
        col: 13,
      },
      {
        path: ['server', 'limits', 'TimeoutMS'],
        message: 'unknown key "TimeoutMS" (did you mean "timeoutMs"?)',
        line: 4,
        col: 43,
      },
      {
        path: ['server', 'limits', 'colour'],
        message: 'unknown key "colour" (expected one of: maxBodyBytes, timeoutMs)',
        line: 4,
        col: 57,
      },
      {
        path: ['routes', 0, 'match', 'prefx'],
        message: 'unknown key "prefx" (did you mean "prefix"?)',
        line: 7,
        col: 26,
      },
      {
        path: ['rotues'],
        message: 'unknown key "rotues" (did you mean "routes"?)',
        line: 8,
        col: 1,
      },
    ]);
  });

  it('points a missing key at its parent, and an unset environment variable at its value', () => {
    const issues = issuesOf('server:\n  host: "${HOST}"\nroutes: []\n');
    expect(issues).toEqual([
      { path: ['server', 'port'], message: 'required key is missing', line: 1, col: 1 },
      { path: ['server', 'host'], message: 'environment variable HOST is not set', line: 2, col: 9 },
      expect.objectContaining({ path: ['server', 'host'], line: 2, col: 9 }),
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their position, before anything else', () => {
    expect(issuesOf('server:\n  host: a\n  host: b\nroutes: []\n')).toEqual([
      { message: 'Map keys must be unique', line: 3, col: 3 },
    ]);
  });

  it('merges the problems of further schemas, each problem once', () => {
    const rule = z
      .looseObject({ server: z.looseObject({ host: z.string() }) })
      .refine((c) => c.server.host !== 'x', {
        message: 'host x is reserved',
        path: ['server', 'host'],
      });
    const strictHost = z.looseObject({ server: z.looseObject({ port: z.coerce.number().max(10) }) });
    const result = validateConfig(schema, 'server: { host: x, port: 99 }\nroutes: []\n', {
      env: {},
      also: [rule, strictHost],
    });
    expect(result).toEqual({
      ok: false,
      issues: [
        expect.objectContaining({ path: ['server', 'host'], message: 'host x is reserved' }),
        // schema and strictHost both refuse port 99 as too big: one problem.
        expect.objectContaining({ path: ['server', 'port'], line: 1, col: 26 }),
      ],
    });
  });
});

describe(ConfigError.name, () => {
  it('formats located problems as path (line N): message, and plain ones as given', () => {
    const sut = new ConfigError('f.yaml', [
      { path: ['a', 0, 'b'], message: 'bad', line: 3, col: 5 },
      'SOME_ENV: not base64',
    ]);
    expect(sut.problems).toEqual(['a.0.b (line 3): bad', 'SOME_ENV: not base64']);
    expect(sut.message).toBe(
      'Invalid configuration in f.yaml:\n  - a.0.b (line 3): bad\n  - SOME_ENV: not base64',
    );
  });
});

describe(closest.name, () => {
  it('suggests a key a few edits away or in another case, and nothing when none is close', () => {
    const known = ['thresholds', 'weights', 'model', 'failureWindowSeconds'];
    expect(closest('tresholds', known)).toBe('thresholds');
    expect(closest('treshold', known)).toBe('thresholds');
    expect(closest('wieghts', known)).toBe('weights');
    expect(closest('Model', known)).toBe('model');
    expect(closest('failureWindow', known)).toBeUndefined();
    expect(closest('colour', known)).toBeUndefined();
  });
});
