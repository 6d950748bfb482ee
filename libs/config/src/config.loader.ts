// Loads the one YAML config file, substitutes ${ENV} references, validates against an app's schema,
// and reports every problem at once with its path and line.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const ENV_REF = /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g;

interface LoadOptions {
  /** Path of the YAML file. */
  file: string;
  /** The environment to substitute from; passed in so nothing else reads process.env. */
  env: Record<string, string | undefined>;
}

/** Reads, interpolates and validates a config file. Throws ConfigError listing every problem. */
export function loadConfig<S extends z.ZodType>(schema: S, { file, env }: LoadOptions): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseConfig(schema, text, { source: file, env });
}

export function parseConfig<S extends z.ZodType>(
  schema: S,
  text: string,
  { source, env }: { source: string; env: Record<string, string | undefined> },
): z.infer<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => `line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  const problems: string[] = [];
  const raw: unknown = doc.toJS() ?? {};
  const interpolated = interpolate(raw, [], env, problems);
  const result = schema.safeParse(interpolated);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String);
      const node = doc.getIn(path, true);
      const line = isNode(node) && node.range ? ` (line ${lineCounter.linePos(node.range[0]).line})` : '';
      problems.push(`${path.length ? path.join('.') : '(root)'}${line}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return (result as { data: z.infer<S> }).data;
}

function interpolate(
  value: unknown,
  path: string[],
  env: Record<string, string | undefined>,
  problems: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push(`${path.join('.')}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, String(i)], env, problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, problems)]),
    );
  }
  return value;
}
