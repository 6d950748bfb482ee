// Turns schema issues into problems a person can act on: where in the file (path, line, column), and for an
// unknown key, which known key was probably meant.
import { type Document, isMap, isNode, isScalar, isSeq, type LineCounter } from 'yaml';
import type { z } from 'zod';

export interface ConfigIssue {
  /** Keys and array indexes from the document root; absent when the problem is not at a place in the file. */
  path?: readonly (string | number)[];
  message: string;
  /** 1-based position of the offending key or value; absent when the file has no such place. */
  line?: number;
  col?: number;
}

/** `path (line N): message`, the form logs and start-up errors use. */
export function formatIssue(issue: ConfigIssue): string {
  const line = issue.line === undefined ? '' : ` (line ${issue.line})`;
  if (!issue.path) return issue.line === undefined ? issue.message : `line ${issue.line}: ${issue.message}`;
  return `${pathOf(issue)}${line}: ${issue.message}`;
}

/** The dotted path, `(root)` for the document itself. */
export function pathOf(issue: ConfigIssue): string {
  return issue.path?.length ? issue.path.join('.') : '(root)';
}

/** In file order; problems without a position last, in the order found. */
export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort(
      (a, b) =>
        (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) ||
        (a.issue.col ?? 0) - (b.issue.col ?? 0) ||
        a.i - b.i,
    )
    .map(({ issue }) => issue);
}

/**
 * One located issue per zod issue, except unknown keys: one per key, at the key, with a suggestion. The
 * dedupe key lets several schemas over the same file report a structural problem once (by place and kind)
 * while distinct rules at one place (custom issues) each keep their own message.
 */
export function issuesOf(
  schema: z.ZodType,
  error: z.ZodError,
  input: unknown,
  doc: Document,
  lineCounter: LineCounter,
): { issue: ConfigIssue; dedupeKey: string }[] {
  return error.issues.flatMap((zi) => {
    // Config paths are keys and indexes; zod allows symbols only for objects a YAML file cannot produce.
    const path = zi.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (zi.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path);
      return zi.keys.map((key) => {
        const keyPath = [...path, key];
        return {
          issue: {
            path: keyPath,
            message: unknownKeyMessage(key, known),
            ...locate(doc, lineCounter, keyPath, 'key'),
          },
          dedupeKey: `${keyPath.join('\0')}\0unknown`,
        };
      });
    }
    const kind = zi.code === 'custom' ? `custom\0${zi.message}` : zi.code;
    // Said plainly: zod's words for it depend on the type ("received undefined", or NaN once coerced).
    const missing = zi.code === 'invalid_type' && !has(input, path);
    return [
      {
        issue: {
          path,
          message: missing ? 'required key is missing' : zi.message,
          ...locate(doc, lineCounter, path),
        },
        dedupeKey: `${path.join('\0')}\0${kind}`,
      },
    ];
  });
}

function has(value: unknown, path: readonly (string | number)[]): boolean {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return false;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node !== undefined;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const close = closest(key, known);
  if (close) return `unknown key "${key}" (did you mean "${close}"?)`;
  return known.length > 0
    ? `unknown key "${key}" (expected one of: ${known.join(', ')})`
    : `unknown key "${key}"`;
}

/** The known key a misspelling most likely meant: same letters in another case, or a few edits away. */
export function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.toLowerCase() === lower ? 0 : editDistance(lower, name.toLowerCase());
    if (distance <= Math.max(1, Math.floor(name.length / 3)) && (!best || distance < best.distance))
      best = { name, distance };
  }
  return best?.name;
}

/** Damerau-Levenshtein (optimal string alignment): a swapped pair of letters is one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The keys the schema allows for the object at `path`. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.core.$ZodTypes | undefined = unwrap(schema);
  for (const segment of path) {
    if (!node) return [];
    const def: z.core.$ZodTypes['_zod']['def'] = node._zod.def;
    let child: z.core.$ZodType | undefined;
    if (def.type === 'object') child = typeof segment === 'string' ? def.shape[segment] : undefined;
    else if (def.type === 'record') child = def.valueType;
    else if (def.type === 'array') child = def.element;
    node = child && unwrap(child);
  }
  return node?._zod.def.type === 'object' ? Object.keys(node._zod.def.shape) : [];
}

/** The schema a value is actually checked against, past optional/default/pipe wrappers. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodTypes {
  const node = schema as z.core.$ZodTypes;
  const def: z.core.$ZodTypes['_zod']['def'] = node._zod.def;
  if ('innerType' in def) return unwrap(def.innerType);
  // A preprocess step (a transform in front) takes any input: what counts is the schema after it.
  if (def.type === 'pipe') return unwrap(def.in._zod.def.type === 'transform' ? def.out : def.in);
  if (def.type === 'lazy') return unwrap(def.getter());
  return node;
}

/**
 * Where `path` is in the document. A scalar is pointed at itself; a mapping or list (and with `at: 'key'`,
 * anything) at its key. A path the file does not have (a missing key) points at its nearest ancestor.
 */
export function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly (string | number)[],
  at: 'key' | 'value' = 'value',
): { line?: number; col?: number } {
  let node: unknown = doc.contents;
  let keyOffset: number | undefined = isNode(node) ? node.range?.[0] : undefined;
  let valueOffset = keyOffset;
  let found = true;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) {
        found = false;
        break;
      }
      keyOffset = isNode(pair.key) ? pair.key.range?.[0] : keyOffset;
      node = pair.value;
      valueOffset = isScalar(node) && node.range ? node.range[0] : keyOffset;
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(segment)];
      if (!isNode(item) || !item.range) {
        found = false;
        break;
      }
      node = item;
      keyOffset = valueOffset = item.range[0];
    } else {
      found = false;
      break;
    }
  }
  const offset = found && at === 'value' ? valueOffset : keyOffset;
  if (offset === undefined) return {};
  const { line, col } = lineCounter.linePos(offset);
  return { line, col };
}
