import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { generateKeySetValue } from '@aibox/identity';
import { freePortPair } from '@aibox/testing';

import { fixtureEnv, fixtureKeys } from './support/fixture-env.js';

// The fixture's main.ts run by node itself, its TypeScript compiled on load by swc (see support/swc-hooks.mjs).
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const NODE_ARGS = [
  '--conditions=aibox-source',
  '--import',
  './test/support/swc-register.mjs',
  'test/fixture/main.ts',
];

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a spawned fixture: only what the test sets, plus PATH. */
function processEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '', ...env };
}

function runToExit(env: Record<string, string>): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, NODE_ARGS, { cwd: PACKAGE_DIR, env: processEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const keys = fixtureKeys();
const key32 = Buffer.alloc(32, 7).toString('base64');
const productionKeys = {
  AIBOX_PRINCIPAL_KEYS: generateKeySetValue(['prod-principal']),
  AIBOX_CAPTOKEN_KEYS: generateKeySetValue(['prod-captoken']),
  AUDIT_SIGNING_KEYS: generateKeySetValue(['prod-audit']),
  AIBOX_CREDENTIALS_KEY: key32,
};

/** The key material of a `kid=base64,…` value or of a bare base64 key, without padding. */
function keyMaterial(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.replace(/^[A-Za-z0-9_-]{1,64}=(?=[^=])/, ''))
    .map((key) => key.replace(/=+$/, ''))
    .filter((key) => key.length >= 16);
}

interface RefusalCase {
  title: string;
  env: Record<string, string>;
  line: string;
}

const refusals: RefusalCase[] = [
  {
    title: 'a port that is not a number',
    env: { PORT: 'abc' },
    line: 'config error: PORT: expected an integer between 1 and 64535',
  },
  {
    title: 'auth disabled without the explicit allowance',
    env: { AUTH_ENABLED: 'false' },
    line: 'config error: AUTH_ENABLED: false is only accepted together with AIBOX_ALLOW_AUTH_DISABLED=true',
  },
  {
    title: 'auth disabled in production, even when allowed',
    env: {
      AIBOX_ENV: 'production',
      ...productionKeys,
      AUTH_ENABLED: 'false',
      AIBOX_ALLOW_AUTH_DISABLED: 'true',
    },
    line: 'config error: AUTH_ENABLED: auth cannot be disabled when AIBOX_ENV=production',
  },
  {
    title: 'a development key in production',
    env: {
      AIBOX_ENV: 'production',
      ...productionKeys,
      AIBOX_PRINCIPAL_KEYS: generateKeySetValue(['dev-principal']),
    },
    line: 'config error: AIBOX_PRINCIPAL_KEYS: key "dev-principal" is a development key (its kid starts with "dev"); AIBOX_ENV=production refuses it',
  },
  {
    title: 'a short signing key in production',
    env: {
      AIBOX_ENV: 'production',
      ...productionKeys,
      AIBOX_CAPTOKEN_KEYS: `k2=${Buffer.alloc(16, 1).toString('base64')}`,
    },
    line: 'config error: AIBOX_CAPTOKEN_KEYS: key "k2" is 16 bytes; AIBOX_ENV=production requires at least 32',
  },
  {
    title: 'a missing audit signing key in production (declared by the service)',
    env: { AIBOX_ENV: 'production', ...productionKeys, AUDIT_SIGNING_KEYS: '' },
    line: 'config error: AUDIT_SIGNING_KEYS: is required when AIBOX_ENV=production',
  },
  {
    title: 'a short credentials key in production (declared by the service)',
    env: {
      AIBOX_ENV: 'production',
      ...productionKeys,
      AIBOX_CREDENTIALS_KEY: Buffer.alloc(16).toString('base64'),
    },
    line: 'config error: AIBOX_CREDENTIALS_KEY: the key is 16 bytes; AIBOX_ENV=production requires at least 32',
  },
  {
    title: 'the built-in identity service as issuer in production',
    env: {
      AIBOX_ENV: 'production',
      ...productionKeys,
      AUTH_ISSUERS: 'https://idp.example.test,http://localhost:8011',
    },
    line: 'config error: AUTH_ISSUERS: http://localhost:8011 is the built-in development identity service; AIBOX_ENV=production needs a real OIDC issuer',
  },
];

describe('runService as a process', () => {
  it.each(refusals)('refuses to start with $title: one line on stderr, exit 78', async ({ env, line }) => {
    const port = await freePortPair();
    const result = await runToExit({ ...fixtureEnv(port, keys), ...env });
    expect(result.stderr).toBe(`${line}\n`);
    expect(result.code).toBe(78);
    expect(result.stdout).not.toContain('listening');
    for (const [name, value] of Object.entries(env)) {
      if (!name.includes('KEY')) continue;
      for (const secret of keyMaterial(value)) expect(result.stderr).not.toContain(secret);
    }
  });

  it('starts with a production configuration, announces itself, and stops cleanly on SIGTERM', async () => {
    const port = await freePortPair();
    const child = spawn(process.execPath, NODE_ARGS, {
      cwd: PACKAGE_DIR,
      env: processEnv({ ...fixtureEnv(port, keys), AIBOX_ENV: 'production', ...productionKeys }),
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (stdout.includes('fixture listening')) resolve();
      });
      child.on('close', () => {
        reject(new Error(`fixture exited before listening: ${stderr}`));
      });
    });

    expect(stdout).toContain(`fixture listening http://127.0.0.1:${port} grpc://127.0.0.1:${port + 1000}\n`);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    const lines = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line['msg'])).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    for (const secret of Object.values(productionKeys).flatMap(keyMaterial)) {
      expect(stdout).not.toContain(secret);
    }
  });
});
