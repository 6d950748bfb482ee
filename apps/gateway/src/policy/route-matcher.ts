// Matches a canonical request to the first route whose host, method and path glob fit. Pure.
import type { RoutePolicy } from '../config';

export interface CompiledRoute {
  policy: RoutePolicy;
  test(host: string, method: string, path: string): boolean;
}

export function compileRoutes(routes: readonly RoutePolicy[]): CompiledRoute[] {
  return routes.map((policy) => {
    const pathRe = globToRegExp(policy.path);
    const methods = policy.methods ? new Set(policy.methods) : null;
    const host = policy.host?.toLowerCase();
    return {
      policy,
      test: (h, m, p) => (!host || host === h) && (!methods || methods.has(m)) && pathRe.test(p),
    };
  });
}

export function matchRoute(
  routes: readonly CompiledRoute[],
  host: string,
  method: string,
  path: string,
): RoutePolicy | null {
  for (const r of routes) if (r.test(host, method, path)) return r.policy;
  return null;
}

/** `/api/reports/**` matches `/api/reports` and everything below it; `*` matches one segment. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  const parts = glob.split('/').filter((p, i) => i > 0 || p !== '');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '**') {
      re += i === parts.length - 1 ? '(?:/.*)?' : '(?:/[^/]+)*';
      continue;
    }
    re += '/' + part.split('*').map(escapeRe).join('[^/]*');
  }
  return new RegExp(`^${re || '/'}/?$`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
