import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config';
import { unmetRequirement } from './requirements';

const route = (require: RoutePolicy['require']): RoutePolicy => ({
  id: 'r',
  path: '/**',
  upstream: 'demo',
  decisions: { low: 'allow', medium: 'allow', high: 'allow', critical: 'deny' },
  onRiskUnavailable: 'deny',
  mode: 'enforce',
  require,
});

describe(unmetRequirement.name, () => {
  it('passes everyone when the route requires nothing', () => {
    expect(unmetRequirement(route(undefined), {})).toBeNull();
  });

  it('needs every listed claim, each with one of its accepted values', () => {
    const r = route({ claims: { tenant: ['acme', 'globex'], email_verified: true } });
    expect(unmetRequirement(r, { tenant: 'acme', email_verified: true })).toBeNull();
    expect(unmetRequirement(r, { tenant: 'initech', email_verified: true })).toMatch(/tenant/);
    expect(unmetRequirement(r, { tenant: 'acme', email_verified: 'true' })).toMatch(/email_verified/);
    expect(unmetRequirement(r, { tenant: 'acme' })).toMatch(/email_verified/);
    // A multi-valued claim passes when one of its values is accepted.
    expect(unmetRequirement(r, { tenant: ['x', 'globex'], email_verified: true })).toBeNull();
  });

  it('needs one of the listed groups', () => {
    const r = route({ groups: ['finance', 'admins'] });
    expect(unmetRequirement(r, { groups: ['staff', 'finance'] })).toBeNull();
    expect(unmetRequirement(r, { groups: 'admins' })).toBeNull();
    expect(unmetRequirement(r, { groups: ['staff'] })).toMatch(/group/);
    expect(unmetRequirement(r, {})).toMatch(/group/);
    // Objects never equal a configured value.
    expect(unmetRequirement(r, { groups: [{ name: 'finance' }] })).toMatch(/group/);
  });
});
