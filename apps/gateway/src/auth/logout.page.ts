// The sign-out confirmation page: a form that POSTs the session's CSRF token, so a link or an image from
// another site (a GET) can never sign anyone out. Same strict CSP and headers as the other StepGate pages.
import { html, pageHeaders, type SafeHtml } from '@stepgate/html';
import { LOGIN_PATH, LOGOUT_PATH } from './sign-in.service';

/**
 * `same-origin`, not the pages' usual `no-referrer`: under no-referrer a browser sends `Origin: null` with the
 * form's POST, and the same-origin check needs the real one. Other sites still get no referrer.
 */
export const LOGOUT_PAGE_HEADERS: Record<string, string> = pageHeaders({ 'referrer-policy': 'same-origin' });

export function logoutPage(csrfToken: string, returnTo: string): SafeHtml {
  const action = `${LOGOUT_PATH}?return_to=${encodeURIComponent(returnTo)}`;
  return page(
    html`<h1>Sign out?</h1>
      <p>This ends your session in this browser.</p>
      <form method="post" action="${action}">
        <input type="hidden" name="_csrf" value="${csrfToken}" />
        <button type="submit" id="logout">Sign out</button>
        <a href="${returnTo}">Stay signed in</a>
      </form>`,
  );
}

/** After a sign-out (or without a session): a link to sign in again, back to where the user was. */
export function signedOutPage(returnTo: string): SafeHtml {
  return page(
    html`<h1>You are signed out</h1>
      <p>
        <a id="sign-in" href="${LOGIN_PATH}?return_to=${encodeURIComponent(returnTo)}">Sign in again</a>
      </p>`,
  );
}

function page(body: SafeHtml): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>Sign out · StepGate</title>
        <link rel="stylesheet" href="/.stepgate/challenges/assets/stepgate.css" />
      </head>
      <body>
        <header class="banner"><p class="brand">StepGate</p></header>
        <main id="main">${body}</main>
      </body>
    </html> `;
}
