// Reads docker-compose.yml and the Dockerfile the way Docker does, so a test can run each StepGate service as
// a process with exactly its container's environment and command (test/e2e/compose-rehearsal.spec.ts).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface ComposeService {
  image?: string;
  build?: unknown;
  restart?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export class ComposeInterpolationError extends Error {}

// `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`.
const VARIABLE =
  /\$(?:(\$)|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\})/g;

/** Interpolates one string as compose does (defaults may themselves hold variables). */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    VARIABLE,
    (
      _m,
      dollar: string | undefined,
      bare: string | undefined,
      name: string | undefined,
      op: string | undefined,
      arg: string | undefined,
    ): string => {
      if (dollar) return '$';
      const key = (bare ?? name)!;
      const value = env[key];
      const unset = op?.startsWith(':') ? !value : value === undefined;
      if (!op || !unset) return value ?? '';
      if (op.endsWith('-')) return interpolate(arg ?? '', env);
      throw new ComposeInterpolationError(`required variable ${key} is missing a value: ${arg ?? ''}`);
    },
  );
}

function interpolateDeep(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, env)]));
  }
  return value;
}

/**
 * The compose file as `docker compose config` resolves it for this environment: YAML merge keys applied,
 * every value interpolated (a `${NAME:?}` without a value throws, as compose refuses to start), list-form
 * environments and short-form depends_on normalised. Top-level `x-` extensions are dropped.
 */
export function loadCompose(file: string, env: Record<string, string | undefined>): ComposeFile {
  const raw = parse(readFileSync(file, 'utf8'), { merge: true }) as Record<string, unknown>;
  const resolved = interpolateDeep(
    Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-'))),
    env,
  ) as ComposeFile;
  for (const service of Object.values(resolved.services)) {
    if (Array.isArray(service.environment)) {
      service.environment = Object.fromEntries(
        (service.environment as string[]).map((e) => {
          const at = e.indexOf('=');
          return at < 0 ? [e, null] : [e.slice(0, at), e.slice(at + 1)];
        }),
      );
    }
    if (Array.isArray(service.depends_on)) {
      service.depends_on = Object.fromEntries(
        (service.depends_on as string[]).map((d) => [d, { condition: 'service_started' }]),
      );
    }
  }
  return resolved;
}

/**
 * The environment a container of the Dockerfile's final stage starts with: the ENV of that stage and of the
 * stages it is built FROM, in order (an image's own ENV, e.g. the node image's PATH, is not in the file).
 */
export function dockerfileEnv(file: string): Record<string, string> {
  const lines = readFileSync(file, 'utf8')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { name: string | undefined; from: string; env: [string, string][] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      stages.push({ from: from[1]!, name: from[2], env: [] });
      continue;
    }
    const envLine = /^ENV\s+(.*)$/i.exec(line);
    if (!envLine || stages.length === 0) continue;
    const body = envLine[1]!;
    const pairs = body.includes('=')
      ? [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map(
          ([, k, v]) => [k!, v!.startsWith('"') ? (JSON.parse(v!) as string) : v!] as [string, string],
        )
      : [[body.split(/\s+/)[0]!, body.split(/\s+/).slice(1).join(' ')] as [string, string]];
    stages.at(-1)!.env.push(...pairs);
  }
  const chain: typeof stages = [];
  for (let stage = stages.at(-1); stage;) {
    const from = stage.from;
    chain.unshift(stage);
    if (chain.length > stages.length) throw new Error('Dockerfile stages form a cycle');
    stage = stages.find((s) => s.name === from);
  }
  return Object.fromEntries(chain.flatMap((s) => s.env));
}

/** `[ip:]host:container` of a `ports` entry. */
export function publishedPort(entry: string): { hostIp: string; host: number; container: number } {
  const parts = entry.split(':');
  const container = Number(parts.pop());
  const host = Number(parts.pop());
  return { hostIp: parts.pop() ?? '0.0.0.0', host, container };
}

/** `volume:/path[:ro]` of a `volumes` entry. */
export function mountOf(entry: string): { source: string; target: string; readOnly: boolean } {
  const [source, target, mode] = entry.split(':');
  return { source: source!, target: target!, readOnly: mode === 'ro' };
}
