import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { bootService, type BootedService, type Environment } from '@aibox/platform';
import { freePort } from '@aibox/testing';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

import type { IdentityConfigSchema } from '../../src/config/identity-config.schema.js';
import { identityServiceOptions } from '../../src/identity.app.js';

export const INTERNAL_SECRET = 'internal-secret-for-tests-0123456789abcdef';
export const SPA_REDIRECT = 'http://127.0.0.1:8080/auth/callback';

function hmacKeySet(kid: string): string {
  return `${kid}=${randomBytes(32).toString('base64')}`;
}

/** Log lines the service wrote, to check what it never logs. */
export class LogLines {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join('');
  }
}

export interface RunningIdentity {
  url: string;
  dataDir: string;
  service: BootedService<IdentityConfigSchema>;
  logs: LogLines;
  close(): Promise<void>;
}

/** A temporary AIBOX_DATA_DIR, removed by `remove()`. */
export async function tempDataDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-identity-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Boots the identity service on a free port (same port again when `port` is given) with a test environment. */
export async function startIdentity(
  dataDir: string,
  env: Environment = {},
  port?: number,
): Promise<RunningIdentity> {
  const listenPort = port ?? (await freePort());
  const url = `http://127.0.0.1:${listenPort}`;
  const logs = new LogLines();
  const service = await bootService(
    identityServiceOptions(
      {
        PORT: String(listenPort),
        AIBOX_DATA_DIR: dataDir,
        AIBOX_PRINCIPAL_KEYS: hmacKeySet('test-p'),
        AIBOX_CAPTOKEN_KEYS: hmacKeySet('test-c'),
        IDENTITY_ISSUER: url,
        INTERNAL_AUTH_CLIENT_SECRET: INTERNAL_SECRET,
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '500',
        ...env,
      },
      logs,
    ),
  );
  return { url, dataDir, service, logs, close: () => service.close() };
}

/** The development logins the service seeded: `[{ email, password, role }]`. */
export async function devLogins(
  dataDir: string,
): Promise<{ email: string; password: string; role: string }[]> {
  const text = await readFile(join(dataDir, 'identity', 'dev-credentials.txt'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const match = /^(\S+) \/ (\S+) \((\w+)\)$/.exec(line);
      if (match === null) throw new Error(`unexpected credentials line: ${line}`);
      return { email: match[1] ?? '', password: match[2] ?? '', role: match[3] ?? '' };
    });
}

/** A minimal browser: a cookie jar and redirects followed by hand, so each hop can be inspected. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  private remember(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = ''] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.remember(response);
    return response;
  }

  /** Follows redirects on the identity origin; stops at the first response that is not one, or that leaves it. */
  async follow(url: string, origin: string, init: RequestInit = {}): Promise<Response> {
    let response = await this.fetch(url, init);
    let location = response.headers.get('location');
    while (response.status >= 300 && response.status < 400 && location !== null) {
      const next = new URL(location, url);
      if (next.origin !== origin) return response;
      url = next.href;
      response = await this.fetch(url);
      location = response.headers.get('location');
    }
    return response;
  }

  /** Posts a form the way a browser does. */
  post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The `action` of the sign-in form on a login page. */
export function loginAction(html: string, base: string): string {
  const match = /<form method="post" action="([^"]+)"/.exec(html);
  if (match === null) throw new Error('no sign-in form on the page');
  return new URL(match[1] ?? '', base).href;
}

/** Starts an authorization request for the SPA and returns the login page. */
export async function openLoginPage(
  browser: Browser,
  issuer: string,
  params: Record<string, string> = {},
): Promise<{ page: Response; html: string; state: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const query = new URLSearchParams({
    client_id: 'aibox-spa',
    response_type: 'code',
    redirect_uri: SPA_REDIRECT,
    scope: 'openid email profile',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  });
  const page = await browser.follow(`${issuer}/auth?${query.toString()}`, issuer);
  return { page, html: await page.text(), state, verifier };
}

/** Signs in through the login page and returns the redirect back to the SPA (or the page, on failure). */
export async function submitLogin(
  browser: Browser,
  issuer: string,
  html: string,
  email: string,
  password: string,
): Promise<Response> {
  const action = loginAction(html, issuer);
  const response = await browser.post(action, { email, password });
  if (response.status !== 303) return response;
  return browser.follow(new URL(response.headers.get('location') ?? '', issuer).href, issuer);
}

/** The authorization code from the final redirect to the SPA. */
export function codeFrom(response: Response, state: string): string {
  const location = response.headers.get('location');
  if (location === null) throw new Error(`expected a redirect, got ${response.status}`);
  const url = new URL(location);
  if (url.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = url.searchParams.get('code');
  if (code === null)
    throw new Error(`no code in ${url.origin}${url.pathname}: ${url.searchParams.get('error') ?? ''}`);
  return code;
}

export async function postToken(
  issuer: string,
  fields: Record<string, string>,
  auth?: string,
): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth === undefined ? {} : { authorization: `Basic ${Buffer.from(auth).toString('base64')}` }),
    },
    body: new URLSearchParams(fields).toString(),
  });
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  expires_in: number;
  token_type: string;
}

/** The whole browser flow: authorize, sign in, exchange the code with its verifier. */
export async function signInWithCode(issuer: string, email: string, password: string): Promise<TokenSet> {
  const browser = new Browser();
  const { html, state, verifier } = await openLoginPage(browser, issuer);
  const back = await submitLogin(browser, issuer, html, email, password);
  const code = codeFrom(back, state);
  const response = await postToken(issuer, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: SPA_REDIRECT,
    client_id: 'aibox-spa',
    code_verifier: verifier,
  });
  if (response.status !== 200)
    throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as TokenSet;
}

/** Verifies a JWT against the issuer's JWKS as the gateway would. */
export async function verifyAccessToken(
  issuer: string,
  token: string,
  audience = 'aibox-api',
): Promise<{ payload: JWTPayload; kid: string | undefined; alg: string }> {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`), { cacheMaxAge: 0, cooldownDuration: 0 });
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    algorithms: ['RS256', 'EdDSA'],
  });
  return { payload, kid: protectedHeader.kid, alg: protectedHeader.alg };
}
