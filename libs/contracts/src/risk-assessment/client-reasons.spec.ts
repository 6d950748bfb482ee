import { describe, expect, it } from 'vitest';
import { clientReason, clientReasons } from './client-reasons';

describe(clientReasons.name, () => {
  it('gives plain reasons for what raised the score, strongest first, each once', () => {
    expect(
      clientReasons([
        { name: 'model_city', weight: 4 },
        { name: 'new_device', weight: 50 },
        { name: 'model_network', weight: 8 },
        { name: 'model_block', weight: 6 },
        { name: 'trusted_network', weight: -10 },
        { name: 'model_browser', weight: 0 },
      ]),
    ).toEqual(['a device not seen before for this account', 'an unusual network', 'an unusual place']);
  });

  it('never carries anything but its fixed phrases', () => {
    expect(clientReason('rare_country')).toBe('an unusual place');
    expect(clientReason('something_new')).toBe('an unusual context');
    expect(clientReason('model_81.2.69.0/24')).toBe('an unusual context');
  });
});
