// The challenge pages' layout and security headers; the escaping template is @stepgate/html's.
import type { FastifyReply } from 'fastify';

import { html, pageHeaders, type SafeHtml } from '@stepgate/html';

export { CONTENT_SECURITY_POLICY, escapeHtml, html, SafeHtml, trusted } from '@stepgate/html';

export const ASSET_BASE = '/.stepgate/challenges/assets';

export const PAGE_HEADERS: Record<string, string> = pageHeaders({
  'permissions-policy': 'publickey-credentials-get=(self), publickey-credentials-create=(self)',
});

export interface Layout {
  title: string;
  csrfToken?: string;
  body: SafeHtml;
}

export function layout({ title, csrfToken, body }: Layout): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        ${csrfToken ? html`<meta name="csrf-token" content="${csrfToken}" />` : ''}
        <title>${title} · StepGate</title>
        <link rel="stylesheet" href="${ASSET_BASE}/stepgate.css" />
        <script src="${ASSET_BASE}/stepgate.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="banner"><p class="brand">StepGate</p></header>
        <main id="main" tabindex="-1">${body}</main>
        <footer class="footer"><p>Your sign-in is protected by StepGate.</p></footer>
      </body>
    </html> `;
}

export function sendPage(reply: FastifyReply, status: number, page: SafeHtml): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(page.value);
}
