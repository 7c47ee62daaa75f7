import { StoreError } from '../store.js';

// Unquoted-safe PostgreSQL identifiers: lower case, no `pg_` prefix (reserved for the system).
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function assertServiceName(service: string): void {
  if (!SERVICE_NAME.test(service)) {
    throw new StoreError(
      'store_config_invalid',
      `service name "${service.slice(0, 80)}" is invalid: use lower-case letters, digits and "-" (at most 63)`,
    );
  }
}

export function assertIdentifier(what: string, name: string): void {
  if (!IDENTIFIER.test(name) || name.startsWith('pg_')) {
    throw new StoreError(
      'store_config_invalid',
      `${what} "${name.slice(0, 80)}" is invalid: use lower-case letters, digits and "_" (at most 63), not starting with a digit or "pg_"`,
    );
  }
}

/** The PostgreSQL schema a service works in by default: its name with `-` spelled `_`. */
export function defaultSchemaFor(service: string): string {
  return service.replaceAll('-', '_');
}

/** A connection string safe to show: the password, if any, replaced by `***`. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable connection string)';
  }
}

/** Removes every spelling of the connection string's password from a message. */
export function redactSecrets(text: string, databaseUrl: string | undefined): string {
  if (databaseUrl === undefined) return text;
  let out = text.replaceAll(databaseUrl, redactUrl(databaseUrl));
  let password: string;
  try {
    password = new URL(databaseUrl).password;
  } catch {
    return out;
  }
  if (password === '') return out;
  const spellings = new Set([password]);
  try {
    spellings.add(decodeURIComponent(password));
  } catch {
    // a malformed escape: only the raw spelling can appear
  }
  for (const spelling of spellings) out = out.replaceAll(spelling, '***');
  return out;
}

/** A short, secret-free description of why a driver call failed. */
export function describeCause(error: unknown, databaseUrl: string | undefined): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const prefix = typeof code === 'string' && code !== '' ? `${code}: ` : '';
    const message =
      error.message === '' && error instanceof AggregateError ? 'connection failed' : error.message;
    // fetch and AggregateError hide the useful part (ECONNREFUSED, …) one level down.
    const inner = error.cause instanceof Error ? ` (${describeCause(error.cause, databaseUrl)})` : '';
    return redactSecrets(`${prefix}${message}${inner}`, databaseUrl);
  }
  return redactSecrets(String(error), databaseUrl);
}
