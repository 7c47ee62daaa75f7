import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { CliError } from './cli.error.js';

/** What `aibox login` stores. */
export interface StoredCredentials {
  issuer: string;
  client_id: string;
  access_token: string;
  refresh_token?: string;
  /** Unix seconds when the access token expires. */
  expires_at: number;
}

/** `$AIBOX_CONFIG_DIR`, else `~/.config/aibox`. */
export function configDir(env: Readonly<Record<string, string | undefined>>): string {
  const configured = env['AIBOX_CONFIG_DIR'];
  return configured !== undefined && configured !== '' ? configured : join(homedir(), '.config', 'aibox');
}

export function credentialsPath(env: Readonly<Record<string, string | undefined>>): string {
  return join(configDir(env), 'credentials.json');
}

function isCredentials(value: unknown): value is StoredCredentials {
  const record = value as Partial<StoredCredentials> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.issuer === 'string' &&
    typeof record.client_id === 'string' &&
    typeof record.access_token === 'string' &&
    typeof record.expires_at === 'number' &&
    (record.refresh_token === undefined || typeof record.refresh_token === 'string')
  );
}

/** The stored credentials; `not_signed_in` when there are none (or they are unreadable). */
export async function readCredentials(file: string): Promise<StoredCredentials> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CliError('not_signed_in', 'not signed in; run aibox login');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isCredentials(parsed)) {
    throw new CliError('not_signed_in', `${file} is not valid; run aibox login again`);
  }
  return parsed;
}

/** Writes the credentials readable by the user only (file 0600 in a 0700 directory), atomically. */
export async function writeCredentials(
  file: string,
  dir: string,
  credentials: StoredCredentials,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/** Removes the credentials; whether there were any. */
export async function deleteCredentials(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
