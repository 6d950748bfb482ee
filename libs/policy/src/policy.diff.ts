// Leaf-level diff of two policy documents (parsed JSON), so the audit log says what a policy version changed.

export interface PolicyChange {
  /** Dotted path; array items that are objects with a string `id` are addressed by it: `policy.routes[payments].decisions.medium`; other array items by index `lists.badIps[2]` */
  path: string;
  op: 'added' | 'removed' | 'changed';
  from?: unknown; // absent for added
  to?: unknown; // absent for removed
}

type JsonObject = Record<string, unknown>;
type IdItem = JsonObject & { id: string };

/**
 * Changes from `before` to `after`, depth-first in sorted key order so the same pair of documents always
 * yields the same list (audit entries get compared and deduplicated). Values in `from`/`to` are the
 * inputs' own subtrees, not copies: callers that mutate the documents afterwards should clone first.
 */
export function diffPolicy(before: unknown, after: unknown): PolicyChange[] {
  const changes: PolicyChange[] = [];
  diffValue('', before, after, changes);
  return changes;
}

/**
 * One line for a log message or a commit-style summary: the first `max` changes, then how many were left out.
 * Values are JSON and cut to 40 characters so one huge subtree (a whole added route) can't flood the line.
 */
export function summarizeChanges(changes: PolicyChange[], max = 5): string {
  if (changes.length === 0) return 'no changes';
  const shown = Math.max(0, Math.floor(max));
  const parts = changes.slice(0, shown).map(describe);
  const rest = changes.length - parts.length;
  if (rest > 0) parts.push(`+${rest} more`);
  return parts.join('; ');
}

const MAX_VALUE_CHARS = 40;

function describe(change: PolicyChange): string {
  const path = change.path === '' ? '(root)' : change.path;
  switch (change.op) {
    case 'added':
    case 'removed':
      // The whole subtree is in the change itself; the summary only has to say which one.
      return `${path} ${change.op}`;
    case 'changed':
      return `${path} ${formatValue(change.from)} → ${formatValue(change.to)}`;
  }
}

function formatValue(value: unknown): string {
  // JSON.stringify gives undefined for undefined (and functions), which JSON documents don't hold anyway.
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

function diffValue(path: string, before: unknown, after: unknown, out: PolicyChange[]): void {
  if (Array.isArray(before) && Array.isArray(after)) {
    diffArray(path, before, after, out);
  } else if (isObject(before) && isObject(after)) {
    diffObject(path, before, after, out);
  } else if (isObject(before) || isObject(after) || Array.isArray(before) || Array.isArray(after)) {
    // A kind change (object/array/primitive): recursing would report a pile of unrelated adds and removes.
    out.push({ path, op: 'changed', from: before, to: after });
  } else if (before !== after) {
    out.push({ path, op: 'changed', from: before, to: after });
  }
}

function diffObject(path: string, before: JsonObject, after: JsonObject, out: PolicyChange[]): void {
  // Plain code-unit sort, not localeCompare: the order must not depend on the host's locale.
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    const childPath = path === '' ? key : `${path}.${key}`;
    const inBefore = Object.hasOwn(before, key);
    const inAfter = Object.hasOwn(after, key);
    if (inBefore && inAfter) diffValue(childPath, before[key], after[key], out);
    else if (inAfter) out.push({ path: childPath, op: 'added', to: after[key] });
    else out.push({ path: childPath, op: 'removed', from: before[key] });
  }
}

function diffArray(path: string, before: unknown[], after: unknown[], out: PolicyChange[]): void {
  // Two empty arrays pass every test below; checking id-keyed first makes [] → [routes] read as added ids.
  if (isIdKeyed(before) && isIdKeyed(after)) {
    diffById(path, before, after, out);
  } else if (before.every(isPrimitive) && after.every(isPrimitive)) {
    // CIDR lists, signals, acr levels: one value each, where an index-wise diff would only be noise.
    if (!samePrimitives(before, after)) out.push({ path, op: 'changed', from: before, to: after });
  } else {
    const common = Math.min(before.length, after.length);
    for (let i = 0; i < common; i++) diffValue(`${path}[${i}]`, before[i], after[i], out);
    for (let i = common; i < after.length; i++)
      out.push({ path: `${path}[${i}]`, op: 'added', to: after[i] });
    for (let i = common; i < before.length; i++)
      out.push({ path: `${path}[${i}]`, op: 'removed', from: before[i] });
  }
}

function diffById(path: string, before: IdItem[], after: IdItem[], out: PolicyChange[]): void {
  const beforeIds = before.map((item) => item.id);
  const afterIds = after.map((item) => item.id);
  const beforeById = new Map(before.map((item) => [item.id, item]));
  const afterById = new Map(after.map((item) => [item.id, item]));

  // Routes match first-wins, so moving one ahead of another changes behaviour even if no route changed.
  // Only the common ids count: an insertion or removal alone shifts positions without reordering anything.
  const commonBefore = beforeIds.filter((id) => afterById.has(id));
  const commonAfter = afterIds.filter((id) => beforeById.has(id));
  if (commonBefore.some((id, i) => id !== commonAfter[i])) {
    out.push({ path: `${path}#order`, op: 'changed', from: beforeIds, to: afterIds });
  }

  for (const item of after) {
    const previous = beforeById.get(item.id);
    const itemPath = `${path}[${item.id}]`;
    if (previous === undefined) out.push({ path: itemPath, op: 'added', to: item });
    else diffObject(itemPath, previous, item, out);
  }
  for (const item of before) {
    if (!afterById.has(item.id)) out.push({ path: `${path}[${item.id}]`, op: 'removed', from: item });
  }
}

/** Every item an object with a string `id`, no id twice: only then is the id a stable address. */
function isIdKeyed(items: unknown[]): items is IdItem[] {
  const seen = new Set<string>();
  for (const item of items) {
    if (!isObject(item) || typeof item.id !== 'string' || seen.has(item.id)) return false;
    seen.add(item.id);
  }
  return true;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPrimitive(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

function samePrimitives(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
