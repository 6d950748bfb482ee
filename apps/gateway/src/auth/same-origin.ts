// Whether a browser request comes from one of our own origins: by its Origin header, else by Fetch Metadata.
// A request with neither (an old browser, an API client) is not same-origin: callers that need it refuse it.
import type { IncomingHttpHeaders } from 'node:http';

export function sameOrigin(headers: IncomingHttpHeaders, origins: readonly string[]): boolean {
  if (typeof headers.origin === 'string') return origins.includes(headers.origin);
  return headers['sec-fetch-site'] === 'same-origin';
}
