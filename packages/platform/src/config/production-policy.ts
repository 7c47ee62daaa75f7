import { IdentityError, parseKeySet } from '@aibox/identity';

import type { BaseConfig } from './base-config.schema.js';
import { ConfigError } from './config.error.js';
import { SERVICE_HTTP_PORTS } from './service-ports.js';

/** HMAC-SHA256 keys shorter than the hash output weaken it (ARCHITECTURE §3). */
export const MIN_PRODUCTION_KEY_BYTES = 32;

/**
 * `make dev` names its generated keys `dev-…`; a kid starting with `dev` (any case) marks a development
 * key, which production refuses.
 */
export function isDevelopmentKid(kid: string): boolean {
  return kid.toLowerCase().startsWith('dev');
}

/**
 * Signing keys production insists on. The first two are read by every service; the others only where a
 * service's schema declares them (audit, code-sandbox).
 */
const ALWAYS_REQUIRED_KEY_SETS = ['AIBOX_PRINCIPAL_KEYS', 'AIBOX_CAPTOKEN_KEYS'] as const;
const DECLARED_KEY_SETS = ['AUDIT_SIGNING_KEYS'] as const;
const DECLARED_SINGLE_KEYS = ['AIBOX_CREDENTIALS_KEY'] as const;

const PRODUCTION = 'AIBOX_ENV=production';

function refuse(setting: string, reason: string): never {
  throw new ConfigError(setting, reason, 'refused');
}

function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    hostname === '[::1]' ||
    /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(hostname)
  );
}

function effectivePort(url: URL): string {
  if (url.port !== '') return url.port;
  return url.protocol === 'https:' ? '443' : '80';
}

/**
 * The built-in identity service (services/identity) is for `make dev` and tests. An issuer is taken to be
 * it when it has the origin of `IDENTITY_URL`, or any loopback host on the identity port (8011).
 */
export function isBuiltInIdentityIssuer(issuer: string, identityUrl: string): boolean {
  const url = new URL(issuer);
  if (isLoopbackHost(url.hostname) && effectivePort(url) === String(SERVICE_HTTP_PORTS.identity)) {
    return true;
  }
  return url.origin === new URL(identityUrl).origin;
}

function checkProductionKeySet(setting: string, raw: string | undefined): void {
  if (raw === undefined) {
    refuse(setting, `is required when ${PRODUCTION}`);
  }
  let keys;
  try {
    keys = parseKeySet(raw, { minKeyBytes: 1 });
  } catch (error: unknown) {
    if (!(error instanceof IdentityError)) throw error;
    throw new ConfigError(setting, error.message.replace(/\.$/, ''));
  }
  for (const [kid, key] of keys.keys) {
    if (isDevelopmentKid(kid)) {
      refuse(
        setting,
        `key "${kid}" is a development key (its kid starts with "dev"); ${PRODUCTION} refuses it`,
      );
    }
    if (key.length < MIN_PRODUCTION_KEY_BYTES) {
      refuse(
        setting,
        `key "${kid}" is ${key.length} bytes; ${PRODUCTION} requires at least ${MIN_PRODUCTION_KEY_BYTES}`,
      );
    }
  }
}

function checkProductionSingleKey(setting: string, raw: string | undefined): void {
  if (raw === undefined) {
    refuse(setting, `is required when ${PRODUCTION}`);
  }
  const length = Buffer.from(raw.trim(), 'base64').length;
  if (length < MIN_PRODUCTION_KEY_BYTES) {
    refuse(
      setting,
      `the key is ${length} bytes; ${PRODUCTION} requires at least ${MIN_PRODUCTION_KEY_BYTES}`,
    );
  }
}

/**
 * Refuses configurations no service may run with (ARCHITECTURE §3). Works on the parsed base settings plus
 * the raw environment (for keys declared only by some services), after the schema accepted every value.
 */
export function enforceConfigPolicy(
  config: BaseConfig,
  env: Readonly<Record<string, string | undefined>>,
  declared: ReadonlySet<string>,
): void {
  const production = config.AIBOX_ENV === 'production';

  if (!config.AUTH_ENABLED) {
    if (production) {
      refuse('AUTH_ENABLED', `auth cannot be disabled when ${PRODUCTION}`);
    }
    if (!config.AIBOX_ALLOW_AUTH_DISABLED) {
      refuse('AUTH_ENABLED', 'false is only accepted together with AIBOX_ALLOW_AUTH_DISABLED=true');
    }
  }

  if (production) {
    for (const setting of ALWAYS_REQUIRED_KEY_SETS) {
      checkProductionKeySet(setting, env[setting]);
    }
    for (const setting of DECLARED_KEY_SETS) {
      if (declared.has(setting)) checkProductionKeySet(setting, env[setting]);
    }
    for (const setting of DECLARED_SINGLE_KEYS) {
      if (declared.has(setting)) checkProductionSingleKey(setting, env[setting]);
    }
    for (const issuer of config.AUTH_ISSUERS) {
      if (isBuiltInIdentityIssuer(issuer, config.IDENTITY_URL)) {
        refuse(
          'AUTH_ISSUERS',
          `${issuer} is the built-in development identity service; ${PRODUCTION} needs a real OIDC issuer`,
        );
      }
    }
  }

  // Every service verifies principals and cap tokens, even with auth disabled: the gateway then signs an
  // anonymous principal (ARCHITECTURE §3).
  if (config.AIBOX_PRINCIPAL_KEYS === undefined) {
    throw new ConfigError('AIBOX_PRINCIPAL_KEYS', 'is required (make dev generates it into AIBOX_DATA_DIR)');
  }
  if (config.AIBOX_CAPTOKEN_KEYS === undefined) {
    throw new ConfigError('AIBOX_CAPTOKEN_KEYS', 'is required (make dev generates it into AIBOX_DATA_DIR)');
  }
}
