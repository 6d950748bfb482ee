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

  it.each([
    ['python-requests/2.31.0', 'python-requests'],
    ['okhttp/4.12.0', 'okhttp'],
    ['Go-http-client/1.1', 'Go-http-client'],
    ['curl/8.4.0', 'curl'],
  ])('names an API client by its product, without version or OS: %s', (ua, client) => {
    expect(parseUserAgent(ua)).toEqual({ browser: client, os: null, deviceType: null });
    expect(parseUserAgent(ua.replace(/\/[\d.]+$/, '/9.9'))).toEqual(parseUserAgent(ua));
  });

  it('knows nothing of an empty agent, or of a Mozilla-like one no parser knows', () => {
    expect(parseUserAgent('')).toEqual({ browser: null, os: null, deviceType: null });
    expect(parseUserAgent('  ')).toEqual({ browser: null, os: null, deviceType: null });
    expect(parseUserAgent(null)).toEqual({ browser: null, os: null, deviceType: null });
    expect(parseUserAgent('Mozilla/5.0 (compatible)')).toEqual({ browser: null, os: null, deviceType: null });
  });
});
