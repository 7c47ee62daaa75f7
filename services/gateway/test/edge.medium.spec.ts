import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HEADER, verifyPrincipal } from '@aibox/identity';
import { ConfigError } from '@aibox/platform';
import { needs, redisUrl } from '@aibox/testing';

import { ANONYMOUS } from '../src/services/identity-stamp.service.js';
import { AuditSink } from './support/audit-sink.js';
import { bearer, send } from './support/client.js';
import { Downstream } from './support/downstream.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { TestIssuer } from './support/oidc-issuer.js';

const redis = await needs('redis');

let issuer: TestIssuer;
let downstream: Downstream;
let audit: AuditSink;

beforeAll(async () => {
  [issuer, downstream, audit] = await Promise.all([
    TestIssuer.start('EdDSA'),
    Downstream.start(),
    AuditSink.start(),
  ]);
});
afterAll(async () => {
  await Promise.all([issuer.close(), downstream.close(), audit.close()]);
});

async function expectRateLimited(env: Record<string, string>, subject: string): Promise<void> {
  const gateway = await startGateway(
    { AUTH_ISSUERS: issuer.url, AUDIT_GRPC_URL: audit.target, GATEWAY_RATE_LIMITS: 'inference=3', ...env },
    downstream.url,
  );
  try {
    const token = await issuer.sign({}, { subject });
    const statuses: number[] = [];
    let refused;
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const response = await send(`${gateway.url}/v1/models`, { headers: bearer(token) });
      statuses.push(response.status);
      if (response.status === 429) refused = response;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(refused?.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused?.headers[HEADER.turnId]).toBeDefined();
    // Budgets are per principal and per route class.
    const other = await issuer.sign({}, { subject: `${subject}-other` });
    expect((await send(`${gateway.url}/v1/models`, { headers: bearer(other) })).status).toBe(200);
    expect((await send(`${gateway.url}/v1/agents`, { headers: bearer(token) })).status).toBe(200);
  } finally {
    await gateway.close();
  }
}

describe('rate limits', () => {
  it('answers 429 rate_limited with Retry-After in memory', async () => {
    await expectRateLimited({}, 'user-memory');
  });

  it.runIf(redis)('answers 429 rate_limited with Retry-After on Redis', async () => {
    await expectRateLimited({ REDIS_URL: redisUrl() }, `user-redis-${Date.now()}`);
  });
});

describe('static SPA', () => {
  let gateway: TestGateway;
  let root: string;

  beforeAll(async () => {
    const parent = await mkdtemp(join(tmpdir(), 'aibox-spa-'));
    root = join(parent, 'dist');
    await mkdir(join(root, 'assets'), { recursive: true });
    await writeFile(join(root, 'index.html'), '<!doctype html><title>aibox</title>');
    await writeFile(join(root, 'assets', 'index-AbCd1234.js'), 'console.log(1)');
    await writeFile(join(root, 'favicon.svg'), '<svg/>');
    await writeFile(join(root, '.env'), 'SECRET=1');
    await writeFile(join(parent, 'secret.txt'), 'outside');
    gateway = await startGateway(
      { AUTH_ISSUERS: issuer.url, AUDIT_GRPC_URL: audit.target, GATEWAY_STATIC_DIR: root },
      downstream.url,
    );
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('serves index.html at / without caching, with security headers', async () => {
    const response = await send(`${gateway.url}/`, { headers: ['Accept', 'text/html'] });
    expect(response.status).toBe(200);
    expect(response.body).toContain('<title>aibox</title>');
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    // The SPA fetches discovery, tokens and revocation from its sign-in issuer, and nothing else elsewhere.
    expect(response.headers['content-security-policy']).toContain(
      `connect-src 'self' ${new URL(issuer.url).origin};`,
    );
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['x-frame-options']).toBe('DENY');
  });

  it('caches hashed assets for a year and other files not at all', async () => {
    const asset = await send(`${gateway.url}/assets/index-AbCd1234.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toContain('text/javascript');
    const icon = await send(`${gateway.url}/favicon.svg`);
    expect(icon.headers['cache-control']).toBe('no-cache');
    expect(icon.headers['content-type']).toBe('image/svg+xml');
  });

  it('falls back to index.html for client routes that accept HTML, and 404s otherwise', async () => {
    const route = await send(`${gateway.url}/chat/123`, {
      headers: ['Accept', 'text/html,application/xhtml+xml'],
    });
    expect(route.status).toBe(200);
    expect(route.body).toContain('<title>aibox</title>');
    const missing = await send(`${gateway.url}/assets/missing-00000000.js`, { headers: ['Accept', '*/*'] });
    expect(missing.status).toBe(404);
  });

  it('never serves a file outside the directory or a dot file', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/.env',
      '/%2eenv',
    ]) {
      const response = await send(gateway.url, { rawPath: path, headers: ['Accept', 'text/html'] });
      expect(response.status, path).toBe(404);
      expect(response.body).not.toContain('outside');
      expect(response.body).not.toContain('SECRET');
    }
  });

  it('keeps /v1 for the API', async () => {
    const response = await send(`${gateway.url}/v1`, { headers: ['Accept', 'text/html'] });
    expect(response.status).toBe(404);
    expect(response.json()).toMatchObject({ code: 'route_unknown' });
  });
});

describe('multi-tenant mode', () => {
  it('takes the tenant from AUTH_TENANT_CLAIM and refuses tokens without one', async () => {
    const gateway = await startGateway(
      {
        AUTH_ISSUERS: issuer.url,
        AUDIT_GRPC_URL: audit.target,
        TENANCY_MODE: 'multi',
        AUTH_TENANT_CLAIM: 'org.id',
      },
      downstream.url,
    );
    try {
      downstream.reset();
      const acme = await issuer.sign({ org: { id: 'acme' }, tenant_id: 'ignored' });
      const me = await send(`${gateway.url}/v1/me`, { headers: bearer(acme) });
      expect(me.json()).toMatchObject({ tid: 'acme' });
      const forwarded = await send(`${gateway.url}/v1/models`, {
        headers: [...bearer(acme), 'X-Tenant-ID', 'acme'],
      });
      expect(forwarded.status).toBe(200);
      expect(downstream.received[0]?.headers[HEADER.tenantId]).toBe('acme');
      const missing = await send(`${gateway.url}/v1/models`, { headers: bearer(await issuer.sign()) });
      expect(missing.status).toBe(403);
      expect(missing.json()).toMatchObject({ code: 'tenant_claim_missing' });
      expect(downstream.received).toHaveLength(1);
    } finally {
      await gateway.close();
    }
  });
});

describe('auth-disabled development mode', () => {
  it('stamps the anonymous principal and still strips spoofed headers', async () => {
    const gateway = await startGateway(
      { AUTH_ENABLED: 'false', AIBOX_ALLOW_AUTH_DISABLED: 'true', AUDIT_GRPC_URL: audit.target },
      downstream.url,
    );
    try {
      downstream.reset();
      const response = await send(`${gateway.url}/v1/models`, {
        headers: ['X-User-ID', 'EVIL', 'Authorization', 'Bearer whatever'],
      });
      expect(response.status).toBe(200);
      const [received] = downstream.received;
      const principal = verifyPrincipal(String(received?.headers[HEADER.principal]), gateway.principalKeys);
      expect(principal).toMatchObject({ tid: 'default', ...ANONYMOUS, roles: [...ANONYMOUS.roles] });
      expect(received?.headers[HEADER.userId]).toBe('anonymous');
      expect(received?.headers.authorization).toBeUndefined();
    } finally {
      await gateway.close();
    }
  });

  it('is refused in production by the platform', async () => {
    await expect(
      startGateway({ AIBOX_ENV: 'production', AUTH_ENABLED: 'false', AIBOX_ALLOW_AUTH_DISABLED: 'true' }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('configuration refusals', () => {
  it('refuses production without AUTH_ISSUERS, naming it', async () => {
    const error: unknown = await startGateway({
      AIBOX_ENV: 'production',
      INTERNAL_AUTH_CLIENT_SECRET: 'x',
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('AUTH_ISSUERS');
  });

  it('refuses production without INTERNAL_AUTH_CLIENT_SECRET, naming it', async () => {
    const error: unknown = await startGateway({
      AIBOX_ENV: 'production',
      AUTH_ISSUERS: 'https://idp.example.test',
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('INTERNAL_AUTH_CLIENT_SECRET');
  });

  it('trusts the built-in identity service in development when AUTH_ISSUERS is empty', async () => {
    const gateway = await startGateway(
      { IDENTITY_URL: issuer.url, AUDIT_GRPC_URL: audit.target },
      downstream.url,
    );
    try {
      const response = await send(`${gateway.url}/v1/me`, { headers: bearer(await issuer.sign()) });
      expect(response.status).toBe(200);
      expect(response.json()).toMatchObject({ iss: issuer.url });
    } finally {
      await gateway.close();
    }
  });
});
