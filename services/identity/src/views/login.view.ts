import { escapeHtml, page } from './html.js';

export interface LoginView {
  /** The interaction the form belongs to (from oidc-provider; url-safe). */
  uid: string;
  clientName: string;
  email: string;
  error?: string;
}

/** The sign-in form. Posting it needs the interaction cookie, which SameSite keeps first-party (CSRF). */
export function loginPage(view: LoginView): string {
  const uid = encodeURIComponent(view.uid);
  const error =
    view.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(view.error)}</p>\n`;
  return page(
    'Sign in',
    `<h1>Sign in to ${escapeHtml(view.clientName)}</h1>
${error}<form method="post" action="/interaction/${uid}/login" autocomplete="on">
<label for="email">Email</label>
<input id="email" name="email" type="email" required autofocus value="${escapeHtml(view.email)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required autocomplete="current-password">
<button type="submit">Sign in</button>
</form>
<p class="muted"><a href="/interaction/${uid}/abort">Cancel</a></p>`,
  );
}
