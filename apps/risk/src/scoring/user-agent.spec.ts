import { describe, expect, it } from 'vitest';
import { CHROME_WINDOWS, FIREFOX_LINUX, SAFARI_IPHONE } from './scoring.fixtures';
import { parseUserAgent } from './user-agent';

describe(parseUserAgent.name, () => {
  it.each([
    [CHROME_WINDOWS, { browser: 'Chrome', os: 'Windows', deviceType: 'desktop' }],
    [FIREFOX_LINUX, { browser: 'Firefox', os: 'Linux', deviceType: 'desktop' }],
    [SAFARI_IPHONE, { browser: 'Mobile Safari', os: 'iOS', deviceType: 'mobile' }],
  ])('gives families, not versions: %s', (ua, expected) => {
    expect(parseUserAgent(ua)).toEqual(expected);
  });

  it('treats a browser update as the same family', () => {
    const older = CHROME_WINDOWS.replace('Chrome/120.0.0.0', 'Chrome/96.0.4664.45');
    expect(parseUserAgent(older)).toEqual(parseUserAgent(CHROME_WINDOWS));
  });

  it('knows nothing of an unrecognised or empty agent', () => {
    expect(parseUserAgent('test-agent/1.0')).toEqual({ browser: null, os: null, deviceType: null });
    expect(parseUserAgent('')).toEqual({ browser: null, os: null, deviceType: null });
    expect(parseUserAgent(null)).toEqual({ browser: null, os: null, deviceType: null });
  });
});
