import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from '@aibox/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  Browser,
  devLogins,
  postToken,
  startIdentity,
  submitLogin,
  tempDataDir,
  type RunningIdentity,
} from '../../services/identity/test/support/identity-harness.js';
import type { StoredCredentials } from '../src/cli/credentials-file.js';
import { runCli } from '../src/cli/run-cli.js';

let identity: RunningIdentity;
let gateway: FastifyInstance;
let gatewayUrl: string;
let configDir: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const data = await tempDataDir();
  cleanups.push(data.remove);
  identity = await startIdentity(data.dir);
  cleanups.push(() => identity.close());
  configDir = join(await mkdtemp(join(tmpdir(), 'aibox-cli-')), 'config', 'aibox');
  cleanups.push(() => rm(join(configDir, '..', '..'), { recursive: true, force: true }));

  // A stand-in for the gateway's GET /v1/me: checks the bearer token against the issuer's JWKS.
  const jwks = createRemoteJWKSet(new URL(`${identity.url}/jwks`));
  gateway = Fastify();
  gateway.get('/v1/me', async (request, reply) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    try {
      const { payload } = await jwtVerify(token ?? '', jwks, { issuer: identity.url, audience: 'aibox-api' });
      return { sub: payload.sub, email: payload['email'], roles: payload['roles'] };
    } catch {
      return reply.code(401).send({ error: 'The bearer token is invalid.', code: 'token_invalid' });
    }
  });
  gatewayUrl = await gateway.listen({ host: '127.0.0.1', port: await freePort() });
  cleanups.push(() => gateway.close());
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const listeners: ((line: string) => void)[] = [];
  const done = runCli(args, {
    env: { AIBOX_CONFIG_DIR: configDir },
    out: (line) => {
      out.push(line);
      for (const listener of listeners) listener(line);
    },
    err: (line) => err.push(line),
  });
  const line = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve) => {
      const check = (text: string) => {
        const match = pattern.exec(text);
        if (match !== null) resolve(match);
      };
      out.forEach(check);
      listeners.push(check);
    });
  return { done, out, err, line };
}

async function stored(): Promise<StoredCredentials> {
  return JSON.parse(await readFile(join(configDir, 'credentials.json'), 'utf8')) as StoredCredentials;
}

/** The user at the browser: enters the code on the device page, confirms it, signs in. */
async function approveDevice(verificationUri: string, userCode: string, email: string, password: string) {
  const browser = new Browser();
  const input = await (await browser.fetch(verificationUri)).text();
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(input)?.[1] ?? '';
  const confirm = await (await browser.post(`${identity.url}/device`, { xsrf, user_code: userCode })).text();
  const confirmXsrf = /name="xsrf" value="([^"]+)"/.exec(confirm)?.[1] ?? '';
  const toLogin = await browser.post(`${identity.url}/device`, {
    xsrf: confirmXsrf,
    user_code: userCode,
    confirm: 'yes',
  });
  const loginUrl = new URL(toLogin.headers.get('location') ?? '', identity.url).href;
  const loginPage = await browser.follow(loginUrl, identity.url);
  const done = await submitLogin(browser, identity.url, await loginPage.text(), email, password);
  expect(await done.text()).toContain('Device connected');
}

describe('aibox login, whoami, logout', () => {
  it('signs in with the device flow and stores private credentials', async () => {
    const [admin] = await devLogins(identity.dataDir);
    const run = cli(['login', '--issuer', identity.url]);
    const [, uri = '', code = ''] = await run.line(/^To sign in, open (\S+) and enter the code (\S+)$/);
    expect(uri).toBe(`${identity.url}/device`);
    await approveDevice(uri, code, admin?.email ?? '', admin?.password ?? '');

    expect(await run.done).toBe(0);
    expect(run.out.at(-1)).toBe(
      `Signed in as admin@aibox.local. Credentials saved to ${join(configDir, 'credentials.json')}`,
    );
    const credentials = await stored();
    expect(Object.keys(credentials).sort()).toEqual([
      'access_token',
      'client_id',
      'expires_at',
      'issuer',
      'refresh_token',
    ]);
    expect(credentials).toMatchObject({ issuer: identity.url, client_id: 'aibox-cli' });
    expect(credentials.expires_at - Date.now() / 1000).toBeGreaterThan(800);
    expect((await stat(join(configDir, 'credentials.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(configDir)).mode & 0o777).toBe(0o700);
  });

  it('whoami shows the gateway’s view, refreshing an expired token first', async () => {
    const first = cli(['whoami', '--gateway', gatewayUrl]);
    expect(await first.done).toBe(0);
    expect(JSON.parse(first.out.join('\n'))).toEqual({
      sub: 'dev-admin',
      email: 'admin@aibox.local',
      roles: ['admin', 'user'],
    });

    const before = await stored();
    await writeFile(join(configDir, 'credentials.json'), JSON.stringify({ ...before, expires_at: 1 }));
    const second = cli(['whoami', '--gateway', gatewayUrl]);
    expect(await second.done).toBe(0);
    const after = await stored();
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.expires_at).toBeGreaterThan(Date.now() / 1000);
  });

  it('logout revokes the refresh token and deletes the credentials; whoami then says to log in', async () => {
    const { refresh_token: refreshToken = '' } = await stored();
    const run = cli(['logout']);
    expect(await run.done).toBe(0);
    expect(run.out).toEqual(['Signed out.']);
    await expect(stat(join(configDir, 'credentials.json'))).rejects.toThrow();
    const reuse = await postToken(identity.url, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'aibox-cli',
    });
    expect(reuse.status).toBe(400);

    const whoami = cli(['whoami', '--gateway', gatewayUrl]);
    expect(await whoami.done).toBe(1);
    expect(whoami.err).toEqual(['aibox: not signed in; run aibox login']);
  });

  it('explains usage errors with exit status 2', async () => {
    const run = cli(['frobnicate']);
    expect(await run.done).toBe(2);
    expect(run.err[0]).toBe('aibox: unknown command: frobnicate');
  });
});
