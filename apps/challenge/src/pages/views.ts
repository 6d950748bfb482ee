// The pages themselves, as pure functions of what they show. Every value goes through `html`, so it is escaped.
import type { ChallengeMethod } from '@stepgate/contracts';
import type { ChallengeView } from '../challenges/challenges.service';
import { explainToClient } from '../challenges/client-reasons';
import type { FactorSummary } from '../factors/enrolment.service';
import { html, layout, trusted, type SafeHtml } from './html';

const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}" />`;
const day = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString().slice(0, 10));
const clock = (ms: number) => `${new Date(ms).toISOString().slice(11, 16)} UTC`;

/** The live region pages and script report into; `done` for confirmations, otherwise a problem. */
const status = (message?: string, tone: 'problem' | 'done' = 'problem') =>
  html`<div
    id="status"
    class="status${tone === 'done' ? ' success' : ''}"
    role="alert"
    tabindex="-1"
    ${message ? '' : html` hidden`}
  >
    ${message ?? ''}
  </div>`;

export function challengePage(input: { view: ChallengeView; csrfToken: string; returnTo: string }): SafeHtml {
  const { view, csrfToken, returnTo } = input;
  const { challenge } = view;
  const why = explainToClient(challenge.risk.signals);
  const base = `/.stepgate/challenges/${encodeURIComponent(challenge.id)}`;
  const has = (m: ChallengeMethod) => challenge.methods.includes(m);
  const back = html`<p class="back"><a href="${returnTo}">Go back to where you were</a></p>`;

  const whySection = html`<section class="why" aria-labelledby="why-title">
    <h2 id="why-title">Why am I asked?</h2>
    <p class="summary">${why.summary}.</p>
    ${
      why.reasons.length
        ? html`<ul>
            ${why.reasons.map((r) => html`<li>${r}</li>`)}
          </ul>`
        : ''
    }
  </section>`;

  if (view.state !== 'open') {
    const message = {
      passed: 'This confirmation is already complete.',
      expired: 'This confirmation has expired. Go back and try again to get a new one.',
      locked: 'Too many wrong answers. Go back and try again later.',
    }[view.state];
    return layout({
      title: 'Confirm it’s you',
      body: html`<h1>Confirm it’s you</h1>
        ${status(message)}${back}`,
    });
  }

  const wait = view.retryAfterSeconds
    ? `Too many wrong answers recently. Wait ${view.retryAfterSeconds} seconds before trying again.`
    : undefined;
  const several = challenge.methods.length > 1;
  const passkey = has('webauthn')
    ? html`<section class="method" aria-labelledby="passkey-title">
        <h2 id="passkey-title">Use your passkey</h2>
        <p>Your device will ask for your fingerprint, face or screen lock.</p>
        <button type="button" class="primary" data-passkey-challenge="${base}" data-return-to="${returnTo}">
          Use a passkey
        </button>
      </section>`
    : '';
  const codeForm = (method: 'totp' | 'recovery_code', label: string, hint: string, numeric: boolean) => {
    const id = method === 'totp' ? 'totp-code' : 'recovery-code';
    // return_to travels in the action's query too: the gateway reads it there when it elevates a session.
    return html`<form
      method="post"
      action="${base}/verify?return_to=${encodeURIComponent(returnTo)}"
      data-verify
      data-return-to="${returnTo}"
    >
      ${csrfField(csrfToken)}
      <input type="hidden" name="method" value="${method}" />
      <input type="hidden" name="return_to" value="${returnTo}" />
      <label for="${id}">${label}</label>
      <p id="${id}-hint" class="hint">${hint}</p>
      ${
        numeric
          ? html`<input
              id="${id}"
              name="code"
              type="text"
              inputmode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]{6,8}"
              maxlength="8"
              required
              aria-describedby="${id}-hint"
            />`
          : html`<input
              id="${id}"
              name="code"
              type="text"
              autocomplete="off"
              autocapitalize="characters"
              spellcheck="false"
              maxlength="20"
              required
              aria-describedby="${id}-hint"
            />`
      }
      <button type="submit" class="${method === 'totp' ? 'primary' : 'secondary'}">Confirm</button>
    </form>`;
  };
  const totp = has('totp')
    ? html`<section class="method" aria-labelledby="totp-title">
        <h2 id="totp-title">Use your authenticator app</h2>
        ${codeForm('totp', 'Code from your authenticator app', 'Enter the 6-digit code your app shows now.', true)}
      </section>`
    : '';
  const recovery = has('recovery_code')
    ? html`<section class="method" aria-labelledby="recovery-title">
        <h2 id="recovery-title">Lost your device? Use a recovery code</h2>
        ${codeForm('recovery_code', 'Recovery code', 'Each code works once. Using one is reported to your security team.', false)}
      </section>`
    : '';

  return layout({
    title: 'Confirm it’s you',
    csrfToken,
    body: html`<h1>Confirm it’s you</h1>
      <p class="lead">
        ${several ? 'Choose one way to confirm.' : 'One more step to continue.'} You have
        ${challenge.attemptsLeft} ${challenge.attemptsLeft === 1 ? 'attempt' : 'attempts'} left; this request
        expires at ${clock(challenge.expiresAt)}.
      </p>
      ${whySection} ${status(wait)} ${passkey}${totp}${recovery} ${back}`,
  });
}

const NOTICES: Record<string, string> = {
  totp: 'Your authenticator app was added.',
  passkey: 'Your passkey was added.',
  removed: 'The factor was removed.',
};

export function factorsPage(input: {
  summary: FactorSummary;
  csrfToken: string;
  canChange: boolean;
  done: string | undefined;
}): SafeHtml {
  const { summary, csrfToken, canChange } = input;
  const hasAny = summary.totp.length + summary.passkeys.length + summary.recoveryCodesLeft > 0;
  const notice = input.done ? NOTICES[input.done] : undefined;
  const removeForm = (action: string, what: string) =>
    html`<form method="post" action="${action}" class="inline">
      ${csrfField(csrfToken)}<button type="submit" class="secondary" aria-label="Remove ${what}">
        Remove
      </button>
    </form>`;
  const stepUp =
    hasAny && !canChange
      ? html`<section class="notice" aria-labelledby="stepup-title">
          <h2 id="stepup-title">Confirm it’s you to make changes</h2>
          <p>Adding or removing a factor needs a recent confirmation with a factor you already have.</p>
          <form method="post" action="/.stepgate/factors/step-up">
            ${csrfField(csrfToken)}<button type="submit" class="primary">Confirm it’s you</button>
          </form>
        </section>`
      : '';
  return layout({
    title: 'Your sign-in factors',
    csrfToken,
    body: html`<h1>Your sign-in factors</h1>
      ${status(notice, 'done')} ${stepUp}
      <section aria-labelledby="passkeys-title">
        <h2 id="passkeys-title">Passkeys</h2>
        ${
          summary.passkeys.length
            ? html`<ul class="factors">
                ${summary.passkeys.map(
                  (p) =>
                    html`<li>
                      <span class="name">${p.label}</span>
                      <span class="detail">added ${day(p.createdAt)}, last used ${day(p.lastUsedAt)}</span>
                      ${removeForm(`/.stepgate/factors/webauthn/${encodeURIComponent(p.id)}/remove`, p.label)}
                    </li>`,
                )}
              </ul>`
            : html`<p>No passkeys yet. A passkey is the strongest way to confirm it’s you.</p>`
        }
        <div class="add">
          <label for="passkey-label">Name for a new passkey</label>
          <input
            id="passkey-label"
            name="label"
            type="text"
            maxlength="64"
            autocomplete="off"
            placeholder="e.g. Work laptop"
          />
          <button type="button" class="primary" data-passkey-register>Add a passkey</button>
        </div>
      </section>
      <section aria-labelledby="totp-title">
        <h2 id="totp-title">Authenticator apps</h2>
        ${
          summary.totp.length
            ? html`<ul class="factors">
                ${summary.totp.map(
                  (f, i) =>
                    html`<li>
                      <span class="name">Authenticator app ${i + 1}</span>
                      <span class="detail">added ${day(f.activatedAt)}</span>
                      ${removeForm(`/.stepgate/factors/totp/${encodeURIComponent(f.id)}/remove`, `authenticator app ${i + 1}`)}
                    </li>`,
                )}
              </ul>`
            : html`<p>No authenticator app yet.</p>`
        }
        <form method="post" action="/.stepgate/factors/totp/setup">
          ${csrfField(csrfToken)}<button type="submit" class="secondary">Add an authenticator app</button>
        </form>
      </section>
      <section aria-labelledby="recovery-title">
        <h2 id="recovery-title">Recovery codes</h2>
        <p>
          ${summary.recoveryCodesLeft} unused recovery ${summary.recoveryCodesLeft === 1 ? 'code' : 'codes'}.
        </p>
        <p><a href="/.stepgate/factors/recovery-codes">Manage recovery codes</a></p>
      </section>`,
  });
}

export function totpSetupPage(input: {
  factorId: string;
  secret: string;
  qrSvg: string;
  csrfToken: string;
}): SafeHtml {
  const grouped = input.secret.match(/.{1,4}/g)?.join(' ') ?? input.secret;
  return layout({
    title: 'Add an authenticator app',
    csrfToken: input.csrfToken,
    body: html`<h1>Add an authenticator app</h1>
      <ol class="steps">
        <li>
          Open your authenticator app and scan this code.
          <figure class="qr">
            ${trusted(input.qrSvg)}
            <figcaption>QR code for your authenticator app</figcaption>
          </figure>
          <p>
            Can’t scan it? Enter this key instead:
            <code class="secret" data-secret="${input.secret}">${grouped}</code>
          </p>
        </li>
        <li>Enter the 6-digit code the app now shows.</li>
      </ol>
      ${status()}
      <form
        method="post"
        action="/.stepgate/factors/totp/${encodeURIComponent(input.factorId)}/activate"
        data-activate
        data-next="/.stepgate/factors?done=totp"
      >
        ${csrfField(input.csrfToken)}
        <label for="activate-code">Code from your authenticator app</label>
        <input
          id="activate-code"
          name="code"
          type="text"
          inputmode="numeric"
          autocomplete="one-time-code"
          pattern="[0-9]{6,8}"
          maxlength="8"
          required
        />
        <button type="submit" class="primary">Add authenticator app</button>
      </form>
      <p class="back"><a href="/.stepgate/factors">Cancel</a></p>`,
  });
}

export function recoveryCodesPage(input: {
  left: number;
  csrfToken: string;
  canGenerate: boolean;
}): SafeHtml {
  return layout({
    title: 'Recovery codes',
    csrfToken: input.csrfToken,
    body: html`<h1>Recovery codes</h1>
      <p>
        Recovery codes let you confirm it’s you when you have lost your passkey or authenticator app. Each
        works once, and we show them only when they are created.
      </p>
      <p class="lead">You have ${input.left} unused recovery ${input.left === 1 ? 'code' : 'codes'}.</p>
      ${
        input.canGenerate
          ? html`<form method="post" action="/.stepgate/factors/recovery-codes/new">
              ${csrfField(input.csrfToken)}
              <p>Creating new codes replaces all earlier ones.</p>
              <button type="submit" class="primary">Create new recovery codes</button>
            </form>`
          : html`<section class="notice" aria-labelledby="stepup-title">
              <h2 id="stepup-title">Confirm it’s you first</h2>
              <p>Creating recovery codes needs a recent confirmation with a passkey or authenticator app.</p>
              <form method="post" action="/.stepgate/factors/step-up">
                ${csrfField(input.csrfToken)}<input
                  type="hidden"
                  name="return_to"
                  value="/.stepgate/factors/recovery-codes"
                /><button type="submit" class="primary">Confirm it’s you</button>
              </form>
            </section>`
      }
      <p class="back"><a href="/.stepgate/factors">Back to your factors</a></p>`,
  });
}

export function recoveryCodesShownPage(codes: readonly string[]): SafeHtml {
  return layout({
    title: 'Your new recovery codes',
    body: html`<h1>Your new recovery codes</h1>
      <p class="status warning" role="status">
        Save these codes now, somewhere safe. They will not be shown again.
      </p>
      <ol class="codes" aria-label="Recovery codes">
        ${codes.map((c) => html`<li><code>${c}</code></li>`)}
      </ol>
      <p><a class="button primary" href="/.stepgate/factors">I have saved them</a></p>`,
  });
}

export function messagePage(input: {
  title: string;
  message: string;
  csrfToken?: string;
  stepUp?: { returnTo: string };
}): SafeHtml {
  return layout({
    title: input.title,
    csrfToken: input.csrfToken,
    body: html`<h1>${input.title}</h1>
      ${status(input.message)}
      ${
        input.stepUp && input.csrfToken
          ? html`<form method="post" action="/.stepgate/factors/step-up">
              ${csrfField(input.csrfToken)}<input
                type="hidden"
                name="return_to"
                value="${input.stepUp.returnTo}"
              /><button type="submit" class="primary">Confirm it’s you</button>
            </form>`
          : ''
      }
      <p class="back"><a href="/.stepgate/factors">Back to your factors</a></p>`,
  });
}
