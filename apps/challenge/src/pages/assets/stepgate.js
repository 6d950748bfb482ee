// StepGate pages: passkeys (WebAuthn) and posting answers with fetch. Served as a static file so the
// Content-Security-Policy can forbid inline script. Never stores anything: a token in a verify response is
// ignored here (the gateway keeps it in its session), only `return_to` is used, and only if it is a local path.
(() => {
  'use strict';

  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
  const status = document.getElementById('status');

  function say(message) {
    if (!status) return;
    status.textContent = message;
    status.hidden = false;
    status.focus();
  }

  function localPath(value) {
    return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) && !value.includes('\\')
      ? value
      : null;
  }

  function go(path) {
    window.location.assign(localPath(path) ?? '/');
  }

  async function post(url, body) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify(body ?? {}),
      });
    } catch {
      return { ok: false, json: { message: 'The network is not reachable. Try again.' } };
    }
    let json = {};
    try {
      json = await res.json();
    } catch {
      json = {};
    }
    return { ok: res.ok, json };
  }

  function messageOf(json) {
    switch (json.error) {
      case 'invalid_code': {
        if (typeof json.attempts_left !== 'number') return 'That code did not work. Check it and try again.';
        const left = json.attempts_left;
        return `That did not work. ${left} ${left === 1 ? 'attempt' : 'attempts'} left.`;
      }
      case 'too_many_attempts':
        return `Too many wrong answers. Wait ${Number(json.retry_after)} seconds, then try again.`;
      case 'challenge_locked':
        return 'Too many wrong answers. Go back and try again later.';
      case 'challenge_expired':
        return 'This request has expired. Go back and try again.';
      case 'challenge_completed':
        return 'This confirmation is already complete.';
      case 'csrf_failed':
        return 'This page is out of date. Reload it and try again.';
      default:
        return typeof json.message === 'string' ? json.message : 'Something went wrong. Try again.';
    }
  }

  function busy(element, on) {
    for (const button of element.querySelectorAll ? element.querySelectorAll('button') : [element]) {
      button.disabled = on;
    }
    if (element.tagName === 'BUTTON') element.disabled = on;
    element.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  const toBytes = (b64url) => {
    const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(b64 + '==='.slice((b64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  };
  const toB64url = (buffer) => {
    let binary = '';
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const withIds = (list) => (list ?? []).map((c) => ({ ...c, id: toBytes(c.id) }));

  function assertionJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : undefined,
      },
      authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function registrationJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        attestationObject: toB64url(r.attestationObject),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : [],
      },
      authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  const noPasskeys = () => !window.PublicKeyCredential || !navigator.credentials;

  // Challenge page: a code (authenticator app or recovery code).
  for (const form of document.querySelectorAll('form[data-verify]')) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      busy(form, true);
      const result = await post(form.action, {
        method: data.get('method'),
        code: String(data.get('code') ?? '').trim(),
        return_to: form.dataset.returnTo,
      });
      busy(form, false);
      if (result.ok) return go(result.json.return_to ?? form.dataset.returnTo);
      say(messageOf(result.json));
    });
  }

  // Challenge page: a passkey.
  const usePasskey = document.querySelector('[data-passkey-challenge]');
  usePasskey?.addEventListener('click', async () => {
    if (noPasskeys()) return say('This browser cannot use passkeys. Choose another way below.');
    const base = usePasskey.dataset.passkeyChallenge;
    busy(usePasskey, true);
    try {
      const options = await post(`${base}/webauthn/options`);
      if (!options.ok) return say(messageOf(options.json));
      const publicKey = {
        ...options.json,
        challenge: toBytes(options.json.challenge),
        allowCredentials: withIds(options.json.allowCredentials),
      };
      let credential;
      try {
        credential = await navigator.credentials.get({ publicKey });
      } catch (err) {
        return say(`The passkey was not used (${err.name}). Try again, or choose another way.`);
      }
      const result = await post(
        `${base}/verify?return_to=${encodeURIComponent(usePasskey.dataset.returnTo ?? '/')}`,
        {
          method: 'webauthn',
          response: assertionJSON(credential),
          return_to: usePasskey.dataset.returnTo,
        },
      );
      if (result.ok) return go(result.json.return_to ?? usePasskey.dataset.returnTo);
      say(messageOf(result.json));
    } finally {
      busy(usePasskey, false);
    }
  });

  // Factors page: register a passkey.
  const register = document.querySelector('[data-passkey-register]');
  register?.addEventListener('click', async () => {
    if (noPasskeys()) return say('This browser cannot create passkeys.');
    busy(register, true);
    try {
      const options = await post('/.stepgate/factors/webauthn/registration/options');
      if (!options.ok) return say(messageOf(options.json));
      const o = options.json;
      const publicKey = {
        ...o,
        challenge: toBytes(o.challenge),
        user: { ...o.user, id: toBytes(o.user.id) },
        excludeCredentials: withIds(o.excludeCredentials),
      };
      let credential;
      try {
        credential = await navigator.credentials.create({ publicKey });
      } catch (err) {
        return say(`No passkey was created (${err.name}).`);
      }
      const label = document.getElementById('passkey-label')?.value.trim();
      const result = await post('/.stepgate/factors/webauthn/registration/verify', {
        response: registrationJSON(credential),
        label: label || undefined,
      });
      if (result.ok) return go('/.stepgate/factors?done=passkey');
      say(messageOf(result.json));
    } finally {
      busy(register, false);
    }
  });

  // Authenticator app set-up: activate with the first code.
  for (const form of document.querySelectorAll('form[data-activate]')) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      busy(form, true);
      const result = await post(form.action, { code: String(new FormData(form).get('code') ?? '').trim() });
      busy(form, false);
      if (result.ok) return go(form.dataset.next);
      say(messageOf(result.json));
    });
  }
})();
