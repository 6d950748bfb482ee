// User agent to browser family, OS family and device type, with ua-parser-js 1 (MIT; v2 is AGPL).
import UAParser from 'ua-parser-js';
import type { UserAgentInfo } from './scoring.types';

const parser = new UAParser();
const cache = new Map<string, UserAgentInfo>();
// Parsing takes tens of microseconds; a subject's few user agents repeat on every request.
const CACHE_LIMIT = 10_000;

// An API client's agent is `product/version ...` (python-requests/2.31.0, okhttp/4.12.0): the product names
// the client as a browser family names a browser. `Mozilla` says nothing: every browser claims it.
const PRODUCT = /^([A-Za-z][A-Za-z0-9._-]{0,63})\/\S/;

/**
 * Families only: versions change with every browser update and say nothing about who is behind them. A
 * client no browser parser knows is named by its product (`python-requests`), in `browser`: for a subject
 * calling without a browser it is the client family its calls are judged by.
 */
export function parseUserAgent(userAgent: string | null): UserAgentInfo {
  if (userAgent === null || userAgent.trim() === '') return { browser: null, os: null, deviceType: null };
  const cached = cache.get(userAgent);
  if (cached) return cached;
  const result = parser.setUA(userAgent).getResult();
  const browser = result.browser.name ?? null;
  const os = result.os.name ?? null;
  const product = PRODUCT.exec(userAgent.trim())?.[1];
  const info: UserAgentInfo = {
    browser: browser ?? (product !== undefined && product !== 'Mozilla' ? product : null),
    os,
    deviceType: result.device.type ?? (browser !== null || os !== null ? 'desktop' : null),
  };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(userAgent, info);
  return info;
}
