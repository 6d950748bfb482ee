// The JSON Schema of a config file as people write it, generated from the zod schema that validates it, so
// editors check the file against the same rules the services do (less the ones JSON Schema cannot say).
import { z } from 'zod';
import { ENV_REF } from './config.loader';

// draft-07: what yaml-language-server and most editors implement fully.
const TARGET = 'draft-7';
/** Formats editors know; zod also emits its own names (e.g. starts_with) next to an equivalent pattern. */
const STANDARD_FORMATS = new Set(['uri', 'email', 'uuid', 'date-time', 'date', 'time', 'ipv4', 'ipv6']);
const MARK = 'x-stepgate-env';

type JsonSchema = Record<string, unknown>;

/**
 * The file is validated after `${ENV}` interpolation, so where the schema accepts a string that interpolation
 * can turn valid (a number it coerces, a URL, an enum value), the raw file may hold an `${ENV}` reference
 * instead: such places accept either. Numbers and booleans the schema does not coerce stay strict, as at start.
 */
export function configJsonSchema(
  schema: z.ZodType,
  meta: { title: string; description: string },
): JsonSchema {
  const generated = z.toJSONSchema(schema, {
    target: TARGET,
    io: 'input',
    unrepresentable: 'throw',
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def;
      const coerced = 'coerce' in def && def.coerce === true;
      const preprocessed = def.type === 'pipe' && def.in._zod.def.type === 'transform';
      if (coerced || preprocessed) jsonSchema[MARK] = true;
    },
  });
  return {
    $schema: generated.$schema,
    title: meta.title,
    description: meta.description,
    ...tidy(withoutKey(generated, '$schema')),
    definitions: {
      env: {
        description: 'A value taken from the environment at start: ${NAME} or ${NAME:-default}',
        type: 'string',
        pattern: ENV_REF.source,
      },
    },
  };
}

function withoutKey(schema: JsonSchema, key: string): JsonSchema {
  return Object.fromEntries(Object.entries(schema).filter(([k]) => k !== key));
}

/** Drops zod's non-standard formats and ±MAX_SAFE_INTEGER bounds, and lets `${ENV}` stand in where it can. */
function tidy(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === MARK) continue;
    if (key === 'format' && typeof value === 'string' && !STANDARD_FORMATS.has(value)) continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER)
      continue;
    out[key] = tidyChild(key, value);
  }
  if (!acceptsEnvRef(schema, out)) return out;
  // Annotations stay outside, so editors still show the default and the description.
  const { default: dflt, description, ...rest } = out;
  return {
    ...(description !== undefined && { description }),
    ...(dflt !== undefined && { default: dflt }),
    anyOf: [rest, { $ref: '#/definitions/env' }],
  };
}

function tidyChild(key: string, value: unknown): unknown {
  const isSchema = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);
  switch (key) {
    case 'properties':
    case 'definitions':
      return Object.fromEntries(
        Object.entries(value as JsonSchema).map(([k, v]) => [k, isSchema(v) ? tidy(v) : v]),
      );
    case 'items':
    case 'additionalProperties':
    case 'propertyNames':
    case 'not':
      return isSchema(value) ? tidy(value) : value;
    case 'anyOf':
    case 'oneOf':
    case 'allOf':
      return (value as unknown[]).map((v) => (isSchema(v) ? tidy(v) : v));
    default:
      return value;
  }
}

/** Where the raw text may be `${...}`: coerced values, and strings with a format, a pattern or a fixed set. */
function acceptsEnvRef(original: JsonSchema, tidied: JsonSchema): boolean {
  if (original[MARK] === true) return true;
  if (tidied.type !== 'string') return false;
  return 'format' in tidied || 'pattern' in tidied || 'enum' in tidied || 'const' in tidied;
}
