import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigIssue } from '@stepgate/config';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderJsonSchema, SCHEMA_FILE, validateStepgateConfig } from './stepgate.config';

const ROOT = resolve(__dirname, '../../..');
const shipped = readFileSync(resolve(ROOT, 'config/stepgate.yaml'), 'utf8');
const committedSchema = readFileSync(resolve(ROOT, SCHEMA_FILE), 'utf8');

/** The shipped file with `from` (which must occur once) replaced by `to`. */
function edit(text: string, from: string, to: string): string {
  expect(text.split(from), `"${from}" occurs once`).toHaveLength(2);
  return text.replace(from, to);
}

/** 1-based line and column of `needle`, which must occur once. */
function positionOf(text: string, needle: string): { line: number; col: number } {
  const at = text.indexOf(needle);
  expect(at >= 0 && text.indexOf(needle, at + 1) < 0, `"${needle}" occurs once`).toBe(true);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, col: before.at(-1)!.length + 1 };
}

function problemsOf(text: string): ConfigIssue[] {
  const result = validateStepgateConfig(text, {});
  if (result.ok) throw new Error('expected problems');
  return result.issues;
}

describe('config/stepgate.schema.json', () => {
  it('is what the zod schemas generate (else run `npm run policy:schema`)', () => {
    expect(committedSchema, `${SCHEMA_FILE} is out of date: run npm run policy:schema`).toBe(
      renderJsonSchema(),
    );
  });

  it('closes every object at every level: an unknown key is never ignored', () => {
    const open: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}/${i}`));
      if (!node || typeof node !== 'object') return;
      const schema = node as Record<string, unknown>;
      if (schema.type === 'object' && schema.properties && schema.additionalProperties !== false)
        open.push(path);
      for (const [key, value] of Object.entries(schema)) walk(value, `${path}/${key}`);
    };
    walk(JSON.parse(committedSchema), '#');
    expect(open).toEqual([]);
  });

  it('lets editors accept the shipped file as written and flag a misspelt key', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(committedSchema) as object);
    expect(validate(parse(shipped)), JSON.stringify(validate.errors)).toBe(true);
    const misspelt = edit(shipped, '      onRiskUnavailable: allow', '      onRiskUnavaliable: allow');
    expect(validate(parse(misspelt))).toBe(false);
    expect(validate.errors).toContainEqual(
      expect.objectContaining({
        instancePath: '/policy/routes/1',
        params: { additionalProperty: 'onRiskUnavaliable' },
      }),
    );
    expect(shipped.split('\n')[0]).toBe('# yaml-language-server: $schema=./stepgate.schema.json');
  });
});

describe(validateStepgateConfig.name, () => {
  it('accepts the shipped file', () => {
    const result = validateStepgateConfig(shipped, {});
    expect(result.ok && result.value.policy.routes.map((r) => r.id)).toEqual([
      'stepgate-admin',
      'reports',
      'payments',
      'admin',
    ]);
  });

  it('reports every misspelt key, deep or not, at its line and column with the key it meant', () => {
    const payments =
      "        acr: 'urn:stepgate:acr:mfa'\n        maxAgeSeconds: 300\n        acrByLevel: { high: 'urn:stepgate:acr:phr' }\n      onRiskUnavailable: deny\n    - id: admin";
    let text = edit(
      shipped,
      payments,
      payments.replace('acr:', 'acrs:').replace('maxAgeSeconds', 'maxAgeSecond'),
    );
    text = edit(text, '    unconfirmedDevice: 30', '    unconfirmedDevise: 30');
    text = edit(text, 'browser: 1, os: 1', 'browser: 1, OS: 1');
    text = edit(text, '    ips: { windowSeconds: 3600', '    ips: { windowSecs: 3600');
    text = edit(text, '  ttlSeconds: 300\n  maxAttempts', '  ttlSecond: 300\n  maxAttempts');
    text = edit(text, 'devIssuer:', 'devIsuer:');
    const at = (needle: string) => positionOf(text, needle);
    const found = problemsOf(text).filter((p) => p.message.startsWith('unknown key'));
    expect(found).toEqual([
      {
        path: ['policy', 'routes', 2, 'stepUp', 'acrs'],
        message: 'unknown key "acrs" (did you mean "acr"?)',
        ...at('acrs'),
      },
      {
        path: ['policy', 'routes', 2, 'stepUp', 'maxAgeSecond'],
        message: 'unknown key "maxAgeSecond" (did you mean "maxAgeSeconds"?)',
        ...at('maxAgeSecond:'),
      },
      {
        path: ['risk', 'weights', 'unconfirmedDevise'],
        message: 'unknown key "unconfirmedDevise" (did you mean "unconfirmedDevice"?)',
        ...at('unconfirmedDevise'),
      },
      {
        path: ['risk', 'model', 'features', 'OS'],
        message: 'unknown key "OS" (did you mean "os"?)',
        ...at('OS:'),
      },
      {
        path: ['risk', 'velocity', 'ips', 'windowSecs'],
        message: 'unknown key "windowSecs" (did you mean "windowSeconds"?)',
        ...at('windowSecs'),
      },
      {
        path: ['challenge', 'ttlSecond'],
        message: 'unknown key "ttlSecond" (did you mean "ttlSeconds"?)',
        ...at('ttlSecond:'),
      },
      {
        path: ['devIsuer'],
        message: 'unknown key "devIsuer" (did you mean "devIssuer"?)',
        ...at('devIsuer:'),
      },
    ]);
  });

  it('reports each problem once though several services validate the same section', () => {
    let text = edit(shipped, 'algorithms: [ES256]', 'algorithms: [HS256]');
    text = edit(text, '  clockSkewSeconds: 30', '  clockSkewSeconds: soon');
    const problems = problemsOf(text);
    expect(problems.map((p) => p.path?.join('.'))).toEqual([
      'gateway.issuers.0.algorithms.0',
      'gateway.clockSkewSeconds',
    ]);
    expect(problems[0]).toMatchObject(positionOf(text, 'HS256'));
  });

  it('reports the rules across sections once the sections are well formed', () => {
    let text = edit(
      shipped,
      '      path: /api/admin/**\n      upstream: demo',
      '      path: /api/admin/**\n      upstream: dmeo',
    );
    text = edit(
      text,
      "  tokens:\n    issuer: 'urn:stepgate:challenge'",
      "  tokens:\n    issuer: 'urn:stepgate:challenger'",
    );
    expect(problemsOf(text)).toEqual([
      {
        path: ['policy', 'routes', 3, 'upstream'],
        message: 'unknown upstream "dmeo"',
        ...positionOf(text, 'dmeo'),
      },
      expect.objectContaining({
        path: ['challenge', 'tokens', 'issuer'],
        message: expect.stringContaining('differs from gateway.challenge.issuer'),
        ...positionOf(text, "'urn:stepgate:challenger'"),
      }),
    ]);
  });
});
