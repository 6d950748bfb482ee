// The console's page headers; the escaping template is @stepgate/html's, shared with the challenge pages.
export { escapeHtml, html, SafeHtml, type HtmlValue as Value } from '@stepgate/html';

/**
 * No inline script or style, so the policy can be strict: the page's script, stylesheet and fetches only
 * from this origin (relative URLs, so it works on the risk port and behind the gateway alike), no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};
