import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configJsonSchema } from './config.json-schema';

const sut = configJsonSchema(
  z.strictObject({
    port: z.coerce.number().int().min(1),
    timeoutMs: z.number().int().positive(),
    url: z.url(),
    path: z.string().startsWith('/'),
    mode: z.enum(['enforce', 'monitor']).default('enforce'),
    name: z.string().min(1),
    nested: z.strictObject({ on: z.boolean() }).optional(),
  }),
  { title: 't', description: 'd' },
);
const validate = new Ajv({ allErrors: true, strict: true });
addFormats(validate);
const check = validate.compile(sut);

describe(configJsonSchema.name, () => {
  it('accepts ${ENV} where interpolation can make the value valid, and only there', () => {
    const base = { port: 1, timeoutMs: 5, url: 'http://a', path: '/x', name: 'n' };
    expect(check(base)).toBe(true);
    for (const key of ['port', 'url', 'path', 'mode', 'name'])
      expect(check({ ...base, [key]: '${VALUE:-x}' }), key).toBe(true);
    // Not coerced: an interpolated string would fail at start, so the editor says so too.
    expect(check({ ...base, timeoutMs: '${TIMEOUT:-5}' })).toBe(false);
    expect(check({ ...base, port: 'eighty' })).toBe(false);
    expect(check({ ...base, mode: 'audit' })).toBe(false);
  });

  it('closes every object and keeps defaults where editors show them', () => {
    expect(check({ port: 1, timeoutMs: 5, url: 'http://a', path: '/x', name: 'n', nme: 'typo' })).toBe(false);
    expect(
      check({ port: 1, timeoutMs: 5, url: 'http://a', path: '/x', name: 'n', nested: { of: true } }),
    ).toBe(false);
    expect(sut).toMatchObject({ title: 't', properties: { mode: { default: 'enforce' } } });
    // zod's own format names are not JSON Schema's; its pattern says the same.
    expect(JSON.stringify(sut)).not.toContain('starts_with');
  });
});
