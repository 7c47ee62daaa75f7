import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from '@aibox/platform';
import { afterEach, describe, expect, it } from 'vitest';

import { verifyPassword } from '../services/password-hash.js';
import { loadIdentityFile, parseIdentityFile } from './identity-file.repository.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-identity-file-'));
  dirs.push(dir);
  return dir;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const HASH = 'scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

describe('identity file', () => {
  it('seeds an admin and a user in development, with their logins in a private file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'identity.json');
    const loaded = await loadIdentityFile({ file, dataDir: dir, seed: true });
    expect(loaded.seeded).toBe(true);
    expect(loaded.content.users.map((user) => [user.email, user.roles])).toEqual([
      ['admin@aibox.local', ['admin', 'user']],
      ['user@aibox.local', ['user']],
    ]);
    const credentials = await readFile(join(dir, 'dev-credentials.txt'), 'utf8');
    const lines = credentials.trim().split('\n');
    expect(lines[0]).toMatch(/^admin@aibox\.local \/ [A-Za-z0-9_-]{20} \(admin\)$/);
    expect(lines[1]).toMatch(/^user@aibox\.local \/ [A-Za-z0-9_-]{20} \(user\)$/);
    const password = lines[0]?.split(' ')[2] ?? '';
    expect(await verifyPassword(password, loaded.content.users[0]?.passwordHash ?? '')).toBe(true);
    expect(await readFile(file, 'utf8')).not.toContain(password);
    for (const path of [file, join(dir, 'dev-credentials.txt')]) {
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    }

    const again = await loadIdentityFile({ file, dataDir: dir, seed: true });
    expect(again.seeded).toBe(false);
    expect(await readFile(join(dir, 'dev-credentials.txt'), 'utf8')).toBe(credentials);
  });

  it('accepts id as a spelling of sub, lower-cases emails, and reads tenant_id', () => {
    const content = parseIdentityFile(
      JSON.stringify({
        users: [
          { id: 'u-1', email: 'Ada@Example.test', password_hash: HASH, roles: ['user'], tenant_id: 'acme' },
        ],
        clients: [
          { client_id: 'aibox-spa', type: 'spa', redirect_uris: ['https://app.example.test/auth/callback'] },
        ],
      }),
      'f.json',
    );
    expect(content.users[0]).toMatchObject({ sub: 'u-1', email: 'ada@example.test', tenantId: 'acme' });
    expect(content.clients[0]?.redirect_uris).toEqual(['https://app.example.test/auth/callback']);
  });

  it.each([
    ['[]', 'config error: IDENTITY_CONFIG_FILE: f.json: Invalid input: expected object, received array'],
    [
      '{"users":[{"email":"a@b.test","password_hash":"x"}]}',
      'config error: IDENTITY_CONFIG_FILE: f.json: users[0].password_hash: expected scrypt$N$r$p$salt$hash (make one with hash-password.js)',
    ],
    [
      `{"users":[{"sub":"a","email":"a@b.test","password_hash":"${HASH}","roles":["bad role"]}]}`,
      'config error: IDENTITY_CONFIG_FILE: f.json: users[0].roles[0]: a role is 1–64 of A-Z a-z 0-9 : . _ -',
    ],
    [`{"users":[],"extra":1}`, 'config error: IDENTITY_CONFIG_FILE: f.json: Unrecognized key: "extra"'],
  ])('refuses %s with one line', (text, message) => {
    const error = configError(() => parseIdentityFile(text, 'f.json'));
    expect(error.message).toBe(message);
  });

  it('refuses duplicate emails', () => {
    const user = { email: 'a@b.test', password_hash: HASH };
    const error = configError(() =>
      parseIdentityFile(
        JSON.stringify({
          users: [
            { ...user, sub: '1' },
            { ...user, sub: '2' },
          ],
        }),
        'f.json',
      ),
    );
    expect(error.message).toBe('config error: IDENTITY_CONFIG_FILE: f.json: users[1].email: duplicate');
  });
});
