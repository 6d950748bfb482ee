// The console's page headers; the escaping template is @stepgate/html's, shared with the challenge pages.
import { pageHeaders } from '@stepgate/html';

export { CONTENT_SECURITY_POLICY, escapeHtml, html, SafeHtml, type HtmlValue as Value } from '@stepgate/html';

export const PAGE_HEADERS: Record<string, string> = pageHeaders();
