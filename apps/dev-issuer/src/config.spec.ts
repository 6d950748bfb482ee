import { describe, expect, it } from 'vitest';
import { assertDevIssuerAllowed } from './config';

describe(assertDevIssuerAllowed.name, () => {
  it('refuses production unless enabled explicitly', () => {
    expect(() => assertDevIssuerAllowed({ NODE_ENV: 'production' })).toThrow(/refuses to run/);
    expect(() =>
      assertDevIssuerAllowed({ NODE_ENV: 'production', STEPGATE_DEV_ISSUER_ENABLED: 'yes' }),
    ).toThrow();
    expect(() =>
      assertDevIssuerAllowed({ NODE_ENV: 'production', STEPGATE_DEV_ISSUER_ENABLED: 'true' }),
    ).not.toThrow();
    expect(() => assertDevIssuerAllowed({})).not.toThrow();
  });
});
