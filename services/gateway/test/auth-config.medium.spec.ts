import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HEADER } from '@aibox/identity';
import { ConfigError } from '@aibox/platform';

import { send } from './support/client.js';
import { Downstream } from './support/downstream.js';
import { startGateway, type TestGateway } from './support/gateway.js';

// Issuers the gateway never contacts here: the SPA's settings and CSP come from configuration alone.
const KEYCLOAK = 'https://sso.example.test/realms/aibox';
const OTHER_IDP = 'https://login.other.example.test:8443';

let downstream: Downstream;
let spaDir: string;

beforeAll(async () => {
  downstream = await Downstream.start();
  spaDir = await mkdtemp(join(tmpdir(), 'aibox-spa-auth-'));
  await mkdir(spaDir, { recursive: true });
  await writeFile(join(spaDir, 'index.html'), '<!doctype html><title>aibox</title>');
});
afterAll(async () => {
  await downstream.close();
  await rm(spaDir, { recursive: true, force: true });
});

async function withGateway(env: Record<string, string>, test: (gateway: TestGateway) => Promise<void>) {
  const gateway = await startGateway({ GATEWAY_STATIC_DIR: spaDir, ...env }, downstream.url);
  try {
    await test(gateway);
  } finally {
    await gateway.close();
  }
}

async function authConfig(gateway: TestGateway, headers: string[] = []) {
  const response = await send(`${gateway.url}/v1/auth/config`, { headers });
  expect(response.status, response.body).toBe(200);
  expect(response.headers['content-type']).toContain('application/json');
  expect(response.headers['cache-control']).toBe('no-cache');
  // Nobody is authenticated, so no turn is opened.
  expect(response.headers[HEADER.turnId]).toBeUndefined();
  return response.json();
}

async function connectSources(gateway: TestGateway): Promise<string[]> {
  const page = await send(`${gateway.url}/`, { headers: ['Accept', 'text/html', 'Connection', 'close'] });
  expect(page.status).toBe(200);
  const policy = String(page.headers['content-security-policy']);
  const directive = policy
    .split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith('connect-src '));
  return directive?.split(/\s+/).slice(1) ?? [];
}

async function refusal(env: Record<string, string>): Promise<ConfigError> {
  const error: unknown = await startGateway(env).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('GET /v1/auth/config', () => {
  it('tells the SPA to sign in at the first accepted issuer as aibox-spa, without a token or identity headers', async () => {
    await withGateway({ AUTH_ISSUERS: `${KEYCLOAK},${OTHER_IDP}` }, async (gateway) => {
      expect(await authConfig(gateway)).toEqual({
        mode: 'oidc',
        issuer: KEYCLOAK,
        client_id: 'aibox-spa',
        scope: 'openid profile email',
      });
      // A token, good or bad, and identity headers change nothing: nothing here depends on the caller.
      expect(
        await authConfig(gateway, [
          'Authorization',
          'Bearer not-a-jwt',
          'X-Tenant-ID',
          'someone-else',
          'X-User-Roles',
          'admin',
        ]),
      ).toMatchObject({ mode: 'oidc', issuer: KEYCLOAK });
      expect(downstream.received).toHaveLength(0);
    });
  });

  it('follows GATEWAY_SPA_ISSUER, _CLIENT_ID and _SCOPE, and lets the SPA fetch from that issuer only', async () => {
    await withGateway(
      {
        AUTH_ISSUERS: `${KEYCLOAK},${OTHER_IDP}`,
        GATEWAY_SPA_ISSUER: `${OTHER_IDP}/`,
        GATEWAY_SPA_CLIENT_ID: 'aibox-web',
        GATEWAY_SPA_SCOPE: 'openid email offline_access',
      },
      async (gateway) => {
        expect(await authConfig(gateway)).toEqual({
          mode: 'oidc',
          issuer: OTHER_IDP,
          client_id: 'aibox-web',
          scope: 'openid email offline_access',
        });
        expect(await connectSources(gateway)).toEqual(["'self'", OTHER_IDP]);
      },
    );
  });

  it('names the issuer origin, not its path, in the static site connect-src', async () => {
    await withGateway({ AUTH_ISSUERS: KEYCLOAK }, async (gateway) => {
      expect(await connectSources(gateway)).toEqual(["'self'", 'https://sso.example.test']);
    });
  });

  it('defaults to the built-in identity service in development when AUTH_ISSUERS is empty', async () => {
    await withGateway({ IDENTITY_URL: 'http://127.0.0.1:18011' }, async (gateway) => {
      expect(await authConfig(gateway)).toMatchObject({ mode: 'oidc', issuer: 'http://127.0.0.1:18011' });
      expect(await connectSources(gateway)).toEqual(["'self'", 'http://127.0.0.1:18011']);
    });
  });

  it('answers mode disabled in auth-disabled development mode, and the SPA fetches from its own origin only', async () => {
    await withGateway(
      { AUTH_ENABLED: 'false', AIBOX_ALLOW_AUTH_DISABLED: 'true', AUTH_ISSUERS: KEYCLOAK },
      async (gateway) => {
        expect(await authConfig(gateway)).toEqual({ mode: 'disabled' });
        expect(await connectSources(gateway)).toEqual(["'self'"]);
      },
    );
  });

  it('refuses to start when the SPA issuer is not an accepted issuer, in one line naming the setting', async () => {
    const error = await refusal({ AUTH_ISSUERS: KEYCLOAK, GATEWAY_SPA_ISSUER: OTHER_IDP });
    expect(error.setting).toBe('GATEWAY_SPA_ISSUER');
    expect(error.message).toBe(
      `config error: GATEWAY_SPA_ISSUER: ${OTHER_IDP} is not an accepted issuer (AUTH_ISSUERS: ${KEYCLOAK}); ` +
        "the gateway would refuse the SPA's tokens",
    );

    // In development without AUTH_ISSUERS only the built-in identity service is accepted.
    const development = await refusal({
      IDENTITY_URL: 'http://127.0.0.1:18011',
      GATEWAY_SPA_ISSUER: KEYCLOAK,
    });
    expect(development.setting).toBe('GATEWAY_SPA_ISSUER');
    expect(development.message).not.toContain('\n');
  });
});
