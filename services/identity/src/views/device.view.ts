import { escapeHtml, page } from './html.js';

/*
 * oidc-provider hands these pages a complete `<form id="op.…">…</form>` of its own (hidden CSRF token, the code
 * input); it escapes what it puts in, and the buttons below submit it through their `form` attribute.
 */

export function userCodeInputPage(form: string, error: string | undefined): string {
  const message = error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>\n`;
  return page(
    'Connect a device',
    `<h1>Connect a device</h1>
${message}<p class="muted">Enter the code shown by the program you are signing in to (for example <code>aibox login</code>).</p>
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export function userCodeConfirmPage(form: string, clientName: string, userCode: string): string {
  return page(
    'Confirm the device',
    `<h1>Sign in ${escapeHtml(clientName)}?</h1>
<p>Check that the program shows this code:</p>
<p><code>${escapeHtml(userCode)}</code></p>
${form}
<button type="submit" form="op.deviceConfirmForm">Yes, continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">No, cancel</button>`,
  );
}

export function deviceSuccessPage(clientName: string): string {
  return page(
    'Device connected',
    `<h1>Device connected</h1>\n<p>${escapeHtml(clientName)} is signed in. You can close this page and return to it.</p>`,
  );
}

export function logoutPage(form: string): string {
  return page(
    'Sign out',
    `<h1>Sign out of aibox?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
  );
}

export function logoutSuccessPage(): string {
  return page(
    'Signed out',
    '<h1>Signed out</h1>\n<p>You are signed out of aibox. You can close this page.</p>',
  );
}
