// Loads the one YAML config file, substitutes ${ENV} references, validates against an app's schema,
// and reports every problem at once with its path, line and column.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ConfigIssue, formatIssue, issuesOf, locate, sortIssues } from './config.issues';

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  /** Every problem; one given as a plain string has no place in the file (an environment variable, say). */
  readonly issues: readonly ConfigIssue[];
  /** The issues as one line each: `path (line N): message`. */
  readonly problems: string[];

  constructor(
    readonly source: string,
    problems: readonly (ConfigIssue | string)[],
  ) {
    const issues = problems.map((p) => (typeof p === 'string' ? { message: p } : p));
    const lines = issues.map(formatIssue);
    super(`Invalid configuration in ${source}:\n${lines.map((p) => `  - ${p}`).join('\n')}`);
    this.issues = issues;
    this.problems = lines;
  }
}

/** `${NAME}` or `${NAME:-default}`; interpolated in values (never keys) before validation. */
export const ENV_REF = /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g;

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
  const result = validateConfig(schema, text, { env });
  if (!result.ok) throw new ConfigError(source, result.issues);
  return result.value;
}

export type ConfigValidation<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] };

/**
 * Validates config text without throwing: every problem, located and sorted by position. `also` are more
 * schemas the file must satisfy (e.g. other services' cross-section rules); a problem several schemas
 * report at the same place is listed once.
 */
export function validateConfig<S extends z.ZodType>(
  schema: S,
  text: string,
  { env, also = [] }: { env: Record<string, string | undefined>; also?: readonly z.ZodType[] },
): ConfigValidation<z.infer<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({
        // The first line without the "at line L, column C:" that prettyErrors appends.
        message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ''),
        ...(e.linePos && { line: e.linePos[0].line, col: e.linePos[0].col }),
      })),
    };
  }
  const interpolationIssues: ConfigIssue[] = [];
  const raw: unknown = doc.toJS() ?? {};
  const interpolated = interpolate(raw, [], env, (path, message) =>
    interpolationIssues.push({ path, message, ...locate(doc, lineCounter, path) }),
  );
  const issues = [...interpolationIssues];
  const seen = new Set<string>();
  let value: unknown;
  for (const s of [schema, ...also]) {
    const result = s.safeParse(interpolated);
    if (s === schema && result.success) value = result.data;
    if (result.success) continue;
    for (const { issue, dedupeKey } of issuesOf(s, result.error, interpolated, doc, lineCounter)) {
      if (seen.has(dedupeKey)) continue;
      seen.add(dedupeKey);
      issues.push(issue);
    }
  }
  if (issues.length > 0) return { ok: false, issues: sortIssues(issues) };
  return { ok: true, value: value as z.infer<S> };
}

function interpolate(
  value: unknown,
  path: (string | number)[],
  env: Record<string, string | undefined>,
  report: (path: (string | number)[], message: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      report(path, `environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], env, report));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, report)]),
    );
  }
  return value;
}
