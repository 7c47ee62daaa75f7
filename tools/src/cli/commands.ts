import { dirname } from 'node:path';

import * as client from 'openid-client';

import { CliError } from './cli.error.js';
import {
  credentialsPath,
  deleteCredentials,
  readCredentials,
  writeCredentials,
  type StoredCredentials,
} from './credentials-file.js';
import { discoverIssuer, expiresAt } from './oidc-client.js';

/** Where a command reads its environment and writes its output (tests pass their own). */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  out: (line: string) => void;
  err: (line: string) => void;
  signal?: AbortSignal;
}

export const DEFAULT_ISSUER = 'http://127.0.0.1:8011';
export const DEFAULT_CLIENT_ID = 'aibox-cli';
export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';
/** A token this close to expiry is refreshed before use. */
const REFRESH_MARGIN_SECONDS = 30;

export interface LoginOptions {
  issuer: string;
  clientId: string;
}

/** `aibox login`: the device authorization grant; stores the tokens for the other commands. */
export async function login(options: LoginOptions, io: CliIo): Promise<void> {
  const config = await discoverIssuer(options.issuer, options.clientId);
  let started: client.DeviceAuthorizationResponse;
  try {
    started = await client.initiateDeviceAuthorization(config, { scope: 'openid email profile' });
  } catch (error: unknown) {
    throw new CliError('login_failed', `the issuer refused to start a device login: ${describe(error)}`);
  }
  io.out(`To sign in, open ${started.verification_uri} and enter the code ${started.user_code}`);
  if (started.verification_uri_complete !== undefined) {
    io.out(`(or open ${started.verification_uri_complete})`);
  }
  io.out('Waiting for you to confirm…');
  let tokens: Awaited<ReturnType<typeof client.pollDeviceAuthorizationGrant>>;
  try {
    tokens = await client.pollDeviceAuthorizationGrant(
      config,
      started,
      undefined,
      io.signal === undefined ? undefined : { signal: io.signal },
    );
  } catch (error: unknown) {
    throw new CliError('login_failed', `sign-in did not complete: ${describe(error)}`);
  }
  const file = credentialsPath(io.env);
  await writeCredentials(file, dirname(file), {
    issuer: options.issuer,
    client_id: options.clientId,
    access_token: tokens.access_token,
    ...(tokens.refresh_token === undefined ? {} : { refresh_token: tokens.refresh_token }),
    expires_at: expiresAt(tokens.expires_in),
  });
  const email = tokens.claims()?.['email'];
  io.out(`Signed in${typeof email === 'string' ? ` as ${email}` : ''}. Credentials saved to ${file}`);
}

/** `aibox logout`: revokes the refresh token when the issuer can, and forgets the credentials. */
export async function logout(io: CliIo): Promise<void> {
  const file = credentialsPath(io.env);
  let stored: StoredCredentials | undefined;
  try {
    stored = await readCredentials(file);
  } catch {
    stored = undefined;
  }
  if (stored?.refresh_token !== undefined) {
    try {
      const config = await discoverIssuer(stored.issuer, stored.client_id);
      if (config.serverMetadata().revocation_endpoint !== undefined) {
        await client.tokenRevocation(config, stored.refresh_token, { token_type_hint: 'refresh_token' });
      }
    } catch (error: unknown) {
      io.err(`could not revoke the refresh token (${describe(error)}); forgetting it anyway`);
    }
  }
  const removed = await deleteCredentials(file);
  io.out(removed ? 'Signed out.' : 'Not signed in.');
}

/** The stored credentials with an access token valid for a while yet, refreshing (and saving) when needed. */
async function freshCredentials(io: CliIo): Promise<StoredCredentials> {
  const file = credentialsPath(io.env);
  const stored = await readCredentials(file);
  if (stored.expires_at - REFRESH_MARGIN_SECONDS > Date.now() / 1000) return stored;
  if (stored.refresh_token === undefined) {
    throw new CliError('not_signed_in', 'the session has expired; run aibox login');
  }
  const config = await discoverIssuer(stored.issuer, stored.client_id);
  let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    tokens = await client.refreshTokenGrant(config, stored.refresh_token);
  } catch (error: unknown) {
    throw new CliError(
      'not_signed_in',
      `the session cannot be renewed (${describe(error)}); run aibox login`,
    );
  }
  const renewed: StoredCredentials = {
    ...stored,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? stored.refresh_token,
    expires_at: expiresAt(tokens.expires_in),
  };
  await writeCredentials(file, dirname(file), renewed);
  return renewed;
}

/** `aibox whoami`: the principal the gateway sees for the stored token (`GET /v1/me`). */
export async function whoami(gateway: string, io: CliIo): Promise<void> {
  const credentials = await freshCredentials(io);
  let response: Response;
  try {
    response = await fetch(`${gateway.replace(/\/+$/, '')}/v1/me`, {
      headers: { authorization: `Bearer ${credentials.access_token}`, accept: 'application/json' },
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
  } catch (error: unknown) {
    throw new CliError('gateway_failed', `cannot reach the gateway at ${gateway}: ${describe(error)}`);
  }
  const text = await response.text();
  if (!response.ok) {
    const hint = response.status === 401 ? '; run aibox login' : '';
    throw new CliError(
      'gateway_failed',
      `the gateway answered ${response.status}: ${text.slice(0, 300)}${hint}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError('gateway_failed', 'the gateway answered with something other than JSON');
  }
  io.out(JSON.stringify(body, null, 2));
}

function describe(error: unknown): string {
  if (error instanceof client.ResponseBodyError) {
    return error.error_description === undefined ? error.error : `${error.error}: ${error.error_description}`;
  }
  return error instanceof Error ? error.message : String(error);
}
