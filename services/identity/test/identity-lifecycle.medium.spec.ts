import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ConfigError } from '@aibox/platform';
import { afterEach, describe, expect, it } from 'vitest';

import { rotateSigningKeys } from '../src/repositories/signing-keys.repository.js';
import {
  Browser,
  devLogins,
  openLoginPage,
  postToken,
  signInWithCode,
  startIdentity,
  submitLogin,
  tempDataDir,
  verifyAccessToken,
  type RunningIdentity,
  type TokenSet,
} from './support/identity-harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(env: Record<string, string> = {}): Promise<RunningIdentity> {
  const data = await tempDataDir();
  cleanups.push(data.remove);
  const identity = await startIdentity(data.dir, env);
  cleanups.push(() => identity.close());
  return identity;
}

async function jwksKids(issuer: string): Promise<string[]> {
  const { keys } = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  return keys.map((key) => key.kid);
}

describe('restart', () => {
  it('keeps its keys and state: an old token still verifies and its refresh token still works', async () => {
    const data = await tempDataDir();
    cleanups.push(data.remove);
    const first = await startIdentity(data.dir);
    const [login] = await devLogins(data.dir);
    const tokens = await signInWithCode(first.url, login?.email ?? '', login?.password ?? '');
    const kidsBefore = await jwksKids(first.url);
    await first.close();

    const port = new URL(first.url).port;
    const second = await startIdentity(data.dir, {}, Number(port));
    cleanups.push(() => second.close());
    expect(await devLogins(data.dir)).toEqual(await devLogins(data.dir));
    expect(await jwksKids(second.url)).toEqual(kidsBefore);
    await expect(verifyAccessToken(second.url, tokens.access_token)).resolves.toMatchObject({
      payload: { sub: 'dev-admin' },
    });
    const refreshed = await postToken(second.url, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
      client_id: 'aibox-spa',
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as TokenSet;
    expect((await verifyAccessToken(second.url, next.access_token)).payload.sub).toBe('dev-admin');
  });
});

describe('key rotation', () => {
  it('signs with the new keys while the old public keys stay in the JWKS', async () => {
    const identity = await started({ IDENTITY_KEYS_RELOAD_MS: '100' });
    const [login] = await devLogins(identity.dataDir);
    const before = await signInWithCode(identity.url, login?.email ?? '', login?.password ?? '');
    const oldKid = (await verifyAccessToken(identity.url, before.access_token)).kid;

    const rotated = await rotateSigningKeys(join(identity.dataDir, 'identity'));
    expect(rotated.RS256).not.toBe(oldKid);
    await expect
      .poll(() => jwksKids(identity.url), { timeout: 10_000, interval: 100 })
      .toContain(rotated.RS256);
    const kids = await jwksKids(identity.url);
    expect(kids).toHaveLength(4);
    expect(kids).toContain(oldKid);
    expect(kids).toContain(rotated.EdDSA);

    await expect(verifyAccessToken(identity.url, before.access_token)).resolves.toMatchObject({
      kid: oldKid,
    });
    const after = await signInWithCode(identity.url, login?.email ?? '', login?.password ?? '');
    expect((await verifyAccessToken(identity.url, after.access_token)).kid).toBe(rotated.RS256);
  });

  it('signs access tokens with Ed25519 when IDENTITY_ACCESS_TOKEN_ALG=EdDSA', async () => {
    const identity = await started({ IDENTITY_ACCESS_TOKEN_ALG: 'EdDSA' });
    const [login] = await devLogins(identity.dataDir);
    const tokens = await signInWithCode(identity.url, login?.email ?? '', login?.password ?? '');
    const { alg, kid } = await verifyAccessToken(identity.url, tokens.access_token);
    expect(alg).toBe('EdDSA');
    expect(kid).toMatch(/^eddsa-/);
  });
});

describe('throttling', () => {
  async function attempt(identity: RunningIdentity, email: string, password: string) {
    const browser = new Browser();
    const { html } = await openLoginPage(browser, identity.url);
    const response = await submitLogin(browser, identity.url, html, email, password);
    const page = await response.text();
    return { status: response.status, message: /<p class="error"[^>]*>([^<]*)<\/p>/.exec(page)?.[1] ?? '' };
  }

  it('refuses the attempt after the allowed failures, even with the right password, alike for unknown emails', async () => {
    const identity = await started({ IDENTITY_LOGIN_MAX_FAILURES: '3' });
    const logins = await devLogins(identity.dataDir);
    const user = logins.find((login) => login.role === 'user') ?? { email: '', password: '' };

    for (let i = 0; i < 3; i += 1) {
      expect((await attempt(identity, user.email, 'wrong')).status).toBe(401);
      expect((await attempt(identity, 'ghost@aibox.local', 'wrong')).status).toBe(401);
    }
    const known = await attempt(identity, user.email, user.password);
    const unknown = await attempt(identity, 'ghost@aibox.local', 'anything');
    expect(known.status).toBe(429);
    expect(known.message).toMatch(
      /^Too many failed sign-in attempts; wait a while and try again \(about \d+ minutes?\)\.$/,
    );
    expect(unknown).toEqual(known);

    // Another account from the same IP is not locked out by these (the per-IP budget is larger).
    const admin = logins.find((login) => login.role === 'admin') ?? { email: '', password: '' };
    expect((await attempt(identity, admin.email, admin.password)).status).toBe(303);
  });
});

describe('config file', () => {
  async function bootError(env: Record<string, string>) {
    const data = await tempDataDir();
    cleanups.push(data.remove);
    try {
      const identity = await startIdentity(data.dir, env);
      await identity.close();
    } catch (error: unknown) {
      if (error instanceof ConfigError) return { error, dir: data.dir };
      throw error;
    }
    throw new Error('expected the service to refuse its configuration');
  }

  it('refuses a file that is not JSON, naming the setting and the file', async () => {
    const data = await tempDataDir();
    cleanups.push(data.remove);
    const file = join(data.dir, 'bad.json');
    await writeFile(file, '{ users: nope');
    const { error } = await bootError({ IDENTITY_CONFIG_FILE: file });
    expect(error.message).toBe(`config error: IDENTITY_CONFIG_FILE: ${file} is not valid JSON`);
  });

  it('names the first invalid field in one line', async () => {
    const data = await tempDataDir();
    cleanups.push(data.remove);
    const file = join(data.dir, 'identity.json');
    await writeFile(
      file,
      JSON.stringify({
        users: [{ sub: 'u1', email: 'not-an-email', password_hash: 'plain', roles: ['user'] }],
      }),
    );
    const { error } = await bootError({ IDENTITY_CONFIG_FILE: file });
    expect(error.message).toBe(
      `config error: IDENTITY_CONFIG_FILE: ${file}: users[0].email: Invalid email address`,
    );
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it('never seeds users in production, and refuses to start without a file', async () => {
    const { error, dir } = await bootError({
      AIBOX_ENV: 'production',
      IDENTITY_ISSUER: 'https://login.example.test',
    });
    expect(error.setting).toBe('IDENTITY_CONFIG_FILE');
    expect(error.kind).toBe('refused');
    expect(error.message).toContain('only AIBOX_ENV=development seeds one');
    await expect(devLogins(dir)).rejects.toThrow();
  });

  it('refuses a plain-http issuer in production', async () => {
    const { error } = await bootError({ AIBOX_ENV: 'production' });
    expect(error.message).toBe(
      'config error: IDENTITY_ISSUER: AIBOX_ENV=production requires an https:// issuer',
    );
  });
});
