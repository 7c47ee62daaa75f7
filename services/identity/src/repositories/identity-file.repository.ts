import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { ConfigError } from '@aibox/platform';
import type { z } from 'zod';

import { identityFileSchema, type IdentityFile } from '../dtos/identity-file.dto.js';
import { hashPassword } from '../services/password-hash.js';
import { readIfExists, writePrivateFile } from './private-file.js';

/** The file `make dev` prints logins from (tools/src/dev reads it), relative to the identity data dir. */
export const DEV_CREDENTIALS_FILE = 'dev-credentials.txt';
export const DEFAULT_CONFIG_FILE = 'identity.json';
const SETTING = 'IDENTITY_CONFIG_FILE';

export interface LoadIdentityFileOptions {
  /** Where the file is. */
  file: string;
  /** `$AIBOX_DATA_DIR/identity`: where the development credentials go. */
  dataDir: string;
  /** Create the file with two users when it is missing (development only). */
  seed: boolean;
}

export interface LoadedIdentityFile {
  content: IdentityFile;
  /** Whether this start created the file (and the development credentials). */
  seeded: boolean;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

/** Parses the file's text; a `ConfigError` naming the file and the first problem otherwise. */
export function parseIdentityFile(text: string, file: string): IdentityFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(SETTING, `${file} is not valid JSON`);
  }
  const result = identityFileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(SETTING, `${file}: ${issue === undefined ? 'invalid' : describeIssue(issue)}`);
  }
  return result.data;
}

function randomPassword(): string {
  return randomBytes(15).toString('base64url');
}

async function seed(options: LoadIdentityFileOptions): Promise<void> {
  const users = [
    { sub: 'dev-admin', email: 'admin@aibox.local', name: 'Development Admin', roles: ['admin', 'user'] },
    { sub: 'dev-user', email: 'user@aibox.local', name: 'Development User', roles: ['user'] },
  ];
  const passwords = users.map(() => randomPassword());
  const content = {
    users: await Promise.all(
      users.map(async (user, index) => ({
        ...user,
        password_hash: await hashPassword(passwords[index] ?? ''),
      })),
    ),
    clients: [],
  };
  const credentials = users.map(
    (user, index) => `${user.email} / ${passwords[index] ?? ''} (${user.roles[0] ?? 'user'})`,
  );
  await writePrivateFile(join(options.dataDir, DEV_CREDENTIALS_FILE), `${credentials.join('\n')}\n`);
  await writePrivateFile(options.file, `${JSON.stringify(content, null, 2)}\n`);
}

/**
 * Reads the users and clients. When the file is missing: with `seed`, creates it with an admin and a user with
 * random passwords and writes their logins to `dev-credentials.txt` (both 0600); without, refuses to start.
 */
export async function loadIdentityFile(options: LoadIdentityFileOptions): Promise<LoadedIdentityFile> {
  let text: string | undefined;
  try {
    text = await readIfExists(options.file);
  } catch (error: unknown) {
    throw new ConfigError(
      SETTING,
      `${options.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (text !== undefined) return { content: parseIdentityFile(text, options.file), seeded: false };
  if (!options.seed) {
    throw new ConfigError(
      SETTING,
      `${options.file} does not exist; create it (see services/identity/README.md) — only AIBOX_ENV=development seeds one`,
      'refused',
    );
  }
  await seed(options);
  const seeded = await readIfExists(options.file);
  return { content: parseIdentityFile(seeded ?? '', options.file), seeded: true };
}
