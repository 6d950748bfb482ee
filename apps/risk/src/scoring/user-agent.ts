// User agent to browser family, OS family and device type, with ua-parser-js 1 (MIT; v2 is AGPL).
import UAParser from 'ua-parser-js';
import type { UserAgentInfo } from './scoring.types';

const parser = new UAParser();
const cache = new Map<string, UserAgentInfo>();
// Parsing takes tens of microseconds; a subject's few user agents repeat on every request.
const CACHE_LIMIT = 10_000;

/** Families only: versions change with every browser update and say nothing about who is behind them. */
export function parseUserAgent(userAgent: string | null): UserAgentInfo {
  if (userAgent === null || userAgent.trim() === '') return { browser: null, os: null, deviceType: null };
  const cached = cache.get(userAgent);
  if (cached) return cached;
  const result = parser.setUA(userAgent).getResult();
  const browser = result.browser.name ?? null;
  const os = result.os.name ?? null;
  const info: UserAgentInfo = {
    browser,
    os,
    deviceType: result.device.type ?? (browser !== null || os !== null ? 'desktop' : null),
  };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(userAgent, info);
  return info;
}
