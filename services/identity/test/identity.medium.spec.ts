import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  Browser,
  codeFrom,
  devLogins,
  INTERNAL_SECRET,
  openLoginPage,
  postToken,
  signInWithCode,
  SPA_REDIRECT,
  startIdentity,
  submitLogin,
  tempDataDir,
  verifyAccessToken,
  type RunningIdentity,
  type TokenSet,
} from './support/identity-harness.js';

let identity: RunningIdentity;
let removeDir: () => Promise<void>;
let admin: { email: string; password: string };
let user: { email: string; password: string };

beforeAll(async () => {
  const data = await tempDataDir();
  removeDir = data.remove;
  identity = await startIdentity(data.dir);
  const logins = await devLogins(data.dir);
  admin = logins.find((login) => login.role === 'admin') ?? { email: '', password: '' };
  user = logins.find((login) => login.role === 'user') ?? { email: '', password: '' };
});

afterAll(async () => {
  await identity.close();
  await removeDir();
});

describe('discovery and keys', () => {
  it('publishes the discovery document for its issuer, with code + PKCE S256, device and client credentials', async () => {
    const response = await fetch(`${identity.url}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const discovery = (await response.json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({
      issuer: identity.url,
      jwks_uri: `${identity.url}/jwks`,
      token_endpoint: `${identity.url}/token`,
      authorization_endpoint: `${identity.url}/auth`,
      device_authorization_endpoint: `${identity.url}/device/auth`,
      revocation_endpoint: `${identity.url}/token/revocation`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    });
    expect(discovery['grant_types_supported']).toEqual(
      expect.arrayContaining([
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
      ]),
    );
    expect(discovery['grant_types_supported']).not.toContain('implicit');
  });

  it('serves an RS256 and an Ed25519 public key, and no private parts', async () => {
    const { keys } = (await (await fetch(`${identity.url}/jwks`)).json()) as {
      keys: Record<string, string>[];
    };
    expect(keys.map((key) => key['alg']).sort()).toEqual(['EdDSA', 'RS256']);
    expect(keys.find((key) => key['alg'] === 'EdDSA')).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      use: 'sig',
    });
    for (const key of keys) {
      expect(key['kid']).toMatch(/^(rs256|eddsa)-\d{8}-[0-9a-f]{8}$/);
      expect(key).not.toHaveProperty('d');
    }
  });

  it('answers unknown paths with the platform error body, and keeps /healthz and /readyz', async () => {
    const unknown = await fetch(`${identity.url}/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'route_unknown' });
    expect((await fetch(`${identity.url}/readyz`)).status).toBe(200);
  });
});

describe('authorization code + PKCE', () => {
  it('signs a user in through the login page and issues a JWT for aibox-api with the user claims', async () => {
    const tokens = await signInWithCode(identity.url, admin.email, admin.password);
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.expires_in).toBe(900);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.id_token).toEqual(expect.any(String));

    const { payload, alg, kid } = await verifyAccessToken(identity.url, tokens.access_token);
    expect(alg).toBe('RS256');
    expect(kid).toMatch(/^rs256-/);
    expect(payload).toMatchObject({
      iss: identity.url,
      aud: 'aibox-api',
      sub: 'dev-admin',
      email: 'admin@aibox.local',
      roles: ['admin', 'user'],
      client_id: 'aibox-spa',
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
    expect(payload).not.toHaveProperty('tenant_id');
    const idToken = await verifyAccessToken(identity.url, tokens.id_token ?? '', 'aibox-spa');
    expect(idToken.payload.sub).toBe('dev-admin');
  });

  it('shows a plain login page with security headers and no script', async () => {
    const { page, html } = await openLoginPage(new Browser(), identity.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(html).toContain('Sign in to aibox');
    expect(html).not.toContain('<script');
    const cookie = page.headers.getSetCookie().join('\n');
    expect(cookie === '' || /samesite=lax/i.test(cookie)).toBe(true);
  });

  it('escapes a hostile login_hint', async () => {
    const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    const { html } = await openLoginPage(new Browser(), identity.url, { login_hint: hostile });
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('refuses a token request without the code_verifier or with a wrong one', async () => {
    for (const verifier of [undefined, 'wrong-verifier-wrong-verifier-wrong-verifier-00']) {
      const browser = new Browser();
      const { html, state } = await openLoginPage(browser, identity.url);
      const code = codeFrom(await submitLogin(browser, identity.url, html, user.email, user.password), state);
      const response = await postToken(identity.url, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: SPA_REDIRECT,
        client_id: 'aibox-spa',
        ...(verifier === undefined ? {} : { code_verifier: verifier }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    }
  });

  it('refuses an authorization request without a PKCE challenge', async () => {
    const browser = new Browser();
    const query = new URLSearchParams({
      client_id: 'aibox-spa',
      response_type: 'code',
      redirect_uri: SPA_REDIRECT,
      scope: 'openid',
      state: 's1',
    });
    const response = await browser.follow(`${identity.url}/auth?${query.toString()}`, identity.url);
    const location = new URL(response.headers.get('location') ?? 'http://none');
    expect(location.origin + location.pathname).toBe(SPA_REDIRECT);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('refreshes tokens, rotating the refresh token on use', async () => {
    const tokens = await signInWithCode(identity.url, user.email, user.password);
    const refreshed = await postToken(identity.url, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
      client_id: 'aibox-spa',
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as TokenSet;
    expect(next.refresh_token).toEqual(expect.any(String));
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    const { payload } = await verifyAccessToken(identity.url, next.access_token);
    expect(payload).toMatchObject({
      sub: 'dev-user',
      email: 'user@aibox.local',
      roles: ['user'],
      aud: 'aibox-api',
    });

    const reused = await postToken(identity.url, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
      client_id: 'aibox-spa',
    });
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('bad credentials', () => {
  it('answers an unknown email and a wrong password with the same message and status', async () => {
    const answers: { status: number; text: string }[] = [];
    for (const [email, password] of [
      ['nobody@aibox.local', 'whatever-password'],
      [user.email, 'wrong-password'],
    ] as const) {
      const browser = new Browser();
      const { html } = await openLoginPage(browser, identity.url);
      const response = await submitLogin(browser, identity.url, html, email, password);
      const text = await response.text();
      answers.push({
        status: response.status,
        text: /<p class="error"[^>]*>([^<]*)<\/p>/.exec(text)?.[1] ?? '',
      });
    }
    expect(answers[0]).toEqual({ status: 401, text: 'Invalid email or password.' });
    expect(answers[1]).toEqual(answers[0]);
    expect(identity.logs.text).not.toContain('wrong-password');
    expect(identity.logs.text).not.toContain(user.password);
  });

  it('answers a sign-in form posted without its interaction cookie with an expiry page, not a crash', async () => {
    const { html } = await openLoginPage(new Browser(), identity.url);
    const response = await submitLogin(new Browser(), identity.url, html, admin.email, admin.password);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('This sign-in request has expired');
  });
});

describe('client credentials', () => {
  it('issues a JWT for aibox-internal to the internal service client', async () => {
    const response = await postToken(
      identity.url,
      { grant_type: 'client_credentials' },
      `aibox-gateway:${INTERNAL_SECRET}`,
    );
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as TokenSet;
    expect(tokens).not.toHaveProperty('refresh_token');
    const { payload } = await verifyAccessToken(identity.url, tokens.access_token, 'aibox-internal');
    expect(payload).toMatchObject({
      iss: identity.url,
      aud: 'aibox-internal',
      sub: 'aibox-gateway',
      client_id: 'aibox-gateway',
    });
  });

  it('refuses a wrong secret, an unknown client, and a public client asking for it', async () => {
    const wrong = await postToken(identity.url, { grant_type: 'client_credentials' }, 'aibox-gateway:wrong');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const unknown = await postToken(
      identity.url,
      { grant_type: 'client_credentials' },
      `nobody:${INTERNAL_SECRET}`,
    );
    expect(unknown.status).toBe(401);
    const spa = await postToken(identity.url, { grant_type: 'client_credentials', client_id: 'aibox-spa' });
    expect(spa.status).toBe(400);
    expect(await spa.json()).not.toHaveProperty('access_token');
  });
});

describe('device authorization grant', () => {
  it('lets a user approve a device code on the device page and the device gets API tokens', async () => {
    const started = await fetch(`${identity.url}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'aibox-cli', scope: 'openid email' }).toString(),
    });
    expect(started.status).toBe(200);
    const device = (await started.json()) as {
      device_code: string;
      user_code: string;
      verification_uri: string;
      verification_uri_complete: string;
      interval: number;
    };
    expect(device.verification_uri).toBe(`${identity.url}/device`);

    const pending = await postToken(identity.url, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: device.device_code,
      client_id: 'aibox-cli',
    });
    expect(await pending.json()).toMatchObject({ error: 'authorization_pending' });

    const browser = new Browser();
    const input = await browser.fetch(device.verification_uri);
    const inputHtml = await input.text();
    expect(input.headers.get('content-security-policy')).toContain("default-src 'none'");
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(inputHtml)?.[1] ?? '';
    const confirm = await browser.post(`${identity.url}/device`, { xsrf, user_code: device.user_code });
    const confirmHtml = await confirm.text();
    expect(confirmHtml).toContain('aibox CLI');
    const confirmXsrf = /name="xsrf" value="([^"]+)"/.exec(confirmHtml)?.[1] ?? '';
    const toLogin = await browser.post(`${identity.url}/device`, {
      xsrf: confirmXsrf,
      user_code: device.user_code,
      confirm: 'yes',
    });
    const loginPage = await browser.follow(
      new URL(toLogin.headers.get('location') ?? '', identity.url).href,
      identity.url,
    );
    const done = await submitLogin(browser, identity.url, await loginPage.text(), user.email, user.password);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Device connected');

    const granted = await postToken(identity.url, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: device.device_code,
      client_id: 'aibox-cli',
    });
    expect(granted.status).toBe(200);
    const tokens = (await granted.json()) as TokenSet;
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const { payload } = await verifyAccessToken(identity.url, tokens.access_token);
    expect(payload).toMatchObject({
      sub: 'dev-user',
      aud: 'aibox-api',
      roles: ['user'],
      client_id: 'aibox-cli',
    });
  });
});
