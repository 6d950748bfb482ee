import { describe, expect, it } from 'vitest';
import { diffPolicy, summarizeChanges, type PolicyChange } from './policy.diff';

const route = (id: string, medium = 'step_up') => ({
  id,
  match: `/${id}`,
  decisions: { low: 'allow', medium },
});

describe(diffPolicy.name, () => {
  it('returns no changes for identical documents', () => {
    const doc = {
      risk: { thresholds: { medium: 30, high: 70 } },
      policy: { routes: [route('payments'), route('admin')] },
      lists: { badIps: ['10.0.0.0/8'] },
      misc: [{ a: 1 }, null, 'x'],
    };
    expect(diffPolicy(doc, structuredClone(doc))).toEqual([]);
  });

  it('reports changed leaves, added and removed keys in sorted key order', () => {
    const before = { risk: { thresholds: { medium: 30, high: 70 }, legacy: { on: true } }, name: 'a' };
    const after = { risk: { thresholds: { medium: 40, high: 70 }, decay: { halfLife: 60 } }, name: 'b' };
    expect(diffPolicy(before, after)).toEqual([
      { path: 'name', op: 'changed', from: 'a', to: 'b' },
      // The added subtree is reported whole, not expanded into its leaves.
      { path: 'risk.decay', op: 'added', to: { halfLife: 60 } },
      { path: 'risk.legacy', op: 'removed', from: { on: true } },
      { path: 'risk.thresholds.medium', op: 'changed', from: 30, to: 40 },
    ]);
  });

  it('reports a type change as one change instead of descending', () => {
    expect(diffPolicy({ a: { b: 1 }, c: [1], d: 5, e: null }, { a: [1], c: 'x', d: '5', e: {} })).toEqual([
      { path: 'a', op: 'changed', from: { b: 1 }, to: [1] },
      { path: 'c', op: 'changed', from: [1], to: 'x' },
      { path: 'd', op: 'changed', from: 5, to: '5' },
      { path: 'e', op: 'changed', from: null, to: {} },
    ]);
  });

  it('finds a nested change inside a route by its id, not its index', () => {
    const before = { policy: { routes: [route('payments'), route('admin')] } };
    const after = { policy: { routes: [route('payments', 'deny'), route('admin')] } };
    expect(diffPolicy(before, after)).toEqual([
      { path: 'policy.routes[payments].decisions.medium', op: 'changed', from: 'step_up', to: 'deny' },
    ]);
  });

  it('reports added routes in after order, then removed routes, without an order change', () => {
    const before = { routes: [route('a'), route('gone'), route('b')] };
    const after = { routes: [route('new'), route('a'), route('b'), route('last')] };
    expect(diffPolicy(before, after)).toEqual([
      { path: 'routes[new]', op: 'added', to: route('new') },
      { path: 'routes[last]', op: 'added', to: route('last') },
      { path: 'routes[gone]', op: 'removed', from: route('gone') },
    ]);
  });

  it('reports a reorder of the routes with the full id lists, alongside item changes', () => {
    const before = { policy: { routes: [route('payments'), route('admin'), route('old')] } };
    const after = { policy: { routes: [route('admin', 'deny'), route('payments'), route('extra')] } };
    expect(diffPolicy(before, after)).toEqual([
      {
        path: 'policy.routes#order',
        op: 'changed',
        from: ['payments', 'admin', 'old'],
        to: ['admin', 'payments', 'extra'],
      },
      { path: 'policy.routes[admin].decisions.medium', op: 'changed', from: 'step_up', to: 'deny' },
      { path: 'policy.routes[extra]', op: 'added', to: route('extra') },
      { path: 'policy.routes[old]', op: 'removed', from: route('old') },
    ]);
  });

  it('addresses routes by id when the list was empty before', () => {
    expect(diffPolicy({ routes: [] }, { routes: [route('a')] })).toEqual([
      { path: 'routes[a]', op: 'added', to: route('a') },
    ]);
  });

  it('compares primitive arrays as whole values, order included', () => {
    const before = { lists: { badIps: ['10.0.0.0/8', '192.168.0.0/16'] }, acr: ['pwd', 'mfa'], same: [1, 2] };
    const after = { lists: { badIps: ['10.0.0.0/8', '172.16.0.0/12'] }, acr: ['mfa', 'pwd'], same: [1, 2] };
    expect(diffPolicy(before, after)).toEqual([
      { path: 'acr', op: 'changed', from: ['pwd', 'mfa'], to: ['mfa', 'pwd'] },
      {
        path: 'lists.badIps',
        op: 'changed',
        from: ['10.0.0.0/8', '192.168.0.0/16'],
        to: ['10.0.0.0/8', '172.16.0.0/12'],
      },
    ]);
  });

  it('compares other arrays index by index', () => {
    const before = { steps: [{ kind: 'otp', ttl: 60 }, 'x', { kind: 'webauthn' }] };
    const after = { steps: [{ kind: 'otp', ttl: 90 }, 'x'] };
    expect(diffPolicy(before, after)).toEqual([
      { path: 'steps[0].ttl', op: 'changed', from: 60, to: 90 },
      { path: 'steps[2]', op: 'removed', from: { kind: 'webauthn' } },
    ]);
    expect(diffPolicy({ steps: [{ kind: 'otp' }] }, { steps: [{ kind: 'otp' }, 3] })).toEqual([
      { path: 'steps[1]', op: 'added', to: 3 },
    ]);
  });

  it('falls back to indexes when ids are duplicated', () => {
    const before = { routes: [route('a'), route('a')] };
    const after = { routes: [route('a'), route('a', 'deny')] };
    expect(diffPolicy(before, after)).toEqual([
      { path: 'routes[1].decisions.medium', op: 'changed', from: 'step_up', to: 'deny' },
    ]);
  });

  it('diffs primitive roots', () => {
    expect(diffPolicy(1, 2)).toEqual([{ path: '', op: 'changed', from: 1, to: 2 }]);
    expect(diffPolicy('x', 'x')).toEqual([]);
  });
});

describe(summarizeChanges.name, () => {
  it('says so when nothing changed', () => {
    expect(summarizeChanges([])).toBe('no changes');
  });

  it('lists the first changes and counts the rest', () => {
    const changes: PolicyChange[] = [
      { path: 'risk.thresholds.medium', op: 'changed', from: 30, to: 40 },
      { path: 'policy.routes[payments]', op: 'added', to: route('payments') },
      { path: 'a', op: 'removed', from: 1 },
      { path: 'b', op: 'removed', from: 2 },
      { path: 'c', op: 'removed', from: 3 },
    ];
    expect(summarizeChanges(changes, 2)).toBe(
      'risk.thresholds.medium 30 → 40; policy.routes[payments] added; +3 more',
    );
    expect(summarizeChanges(changes.slice(0, 3))).toBe(
      'risk.thresholds.medium 30 → 40; policy.routes[payments] added; a removed',
    );
  });

  it('JSON-encodes values and cuts them to 40 characters', () => {
    const long = 'x'.repeat(50);
    expect(summarizeChanges([{ path: 'name', op: 'changed', from: long, to: ['a', null] }])).toBe(
      `name "${'x'.repeat(38)}… → ["a",null]`,
    );
    expect(summarizeChanges(diffPolicy(1, 2))).toBe('(root) 1 → 2');
  });
});
