import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config';
import { compileRoutes, globToRegExp, matchRoute } from './route-matcher';

const route = (id: string, path: string, extra: Partial<RoutePolicy> = {}): RoutePolicy => ({
  id,
  path,
  upstream: 'demo',
  decisions: { low: 'allow', medium: 'allow', high: 'allow', critical: 'deny' },
  onRiskUnavailable: 'deny',
  mode: 'enforce',
  ...extra,
});

describe(globToRegExp.name, () => {
  it('matches ** over any depth and the prefix itself', () => {
    const re = globToRegExp('/api/reports/**');
    expect(re.test('/api/reports')).toBe(true);
    expect(re.test('/api/reports/')).toBe(true);
    expect(re.test('/api/reports/a/b/c')).toBe(true);
    expect(re.test('/api/reportsx')).toBe(false);
    expect(re.test('/api/other')).toBe(false);
  });

  it('matches * within one segment only', () => {
    const re = globToRegExp('/api/*/items');
    expect(re.test('/api/a/items')).toBe(true);
    expect(re.test('/api/a/b/items')).toBe(false);
  });

  it('treats regex characters literally', () => {
    expect(globToRegExp('/a.b/**').test('/aXb/c')).toBe(false);
  });
});

describe(matchRoute.name, () => {
  const sut = compileRoutes([
    route('admin-get', '/api/admin/**', { methods: ['GET'] }),
    route('by-host', '/**', { host: 'internal.example' }),
    route('reports', '/api/reports/**'),
  ]);

  it('takes the first route whose host, method and path match', () => {
    expect(matchRoute(sut, 'x', 'GET', '/api/admin/u')?.id).toBe('admin-get');
    expect(matchRoute(sut, 'x', 'POST', '/api/admin/u')).toBeNull();
    expect(matchRoute(sut, 'internal.example', 'POST', '/anything')?.id).toBe('by-host');
    expect(matchRoute(sut, 'x', 'GET', '/api/reports/1')?.id).toBe('reports');
  });

  it('denies by default: no route, no match', () => {
    expect(matchRoute(sut, 'x', 'GET', '/')).toBeNull();
  });
});
