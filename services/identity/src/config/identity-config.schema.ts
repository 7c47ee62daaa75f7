import { enumSetting, flagSetting, intSetting, secret, textSetting, urlSetting } from '@aibox/platform';
import { z } from 'zod';

/** Algorithms the identity service signs API access tokens with; both keys are always in the JWKS. */
export const ACCESS_TOKEN_ALGS = ['RS256', 'EdDSA'] as const;
export type AccessTokenAlg = (typeof ACCESS_TOKEN_ALGS)[number];

/** The identity service's own settings, merged into the platform's base settings. */
export const identityConfigSchema = z.object({
  /** The issuer URL; must equal the URL clients (and the gateway's `AUTH_ISSUERS`) use. */
  IDENTITY_ISSUER: urlSetting().default('http://127.0.0.1:8011'),
  /** Users and clients; default `$AIBOX_DATA_DIR/identity/identity.json`. */
  IDENTITY_CONFIG_FILE: textSetting().optional(),
  /** `aud` of access tokens for the API (the gateway checks it). */
  AUTH_AUDIENCE: textSetting().default('aibox-api'),
  /** `aud` of service-to-service tokens (client credentials). */
  INTERNAL_AUTH_AUDIENCE: textSetting().default('aibox-internal'),
  INTERNAL_AUTH_CLIENT_ID: textSetting().default('aibox-gateway'),
  INTERNAL_AUTH_CLIENT_SECRET: secret(textSetting().optional()),
  IDENTITY_ACCESS_TOKEN_TTL_SECONDS: intSetting(60, 86_400).default(900),
  IDENTITY_REFRESH_TOKEN_TTL_SECONDS: intSetting(300, 31_536_000).default(1_209_600),
  IDENTITY_ACCESS_TOKEN_ALG: enumSetting(ACCESS_TOKEN_ALGS).default('RS256'),
  /** Failed sign-ins per email (and 4× that per client IP) before further attempts are refused. */
  IDENTITY_LOGIN_MAX_FAILURES: intSetting(1, 1000).default(5),
  /** How long the failures count, and how long a throttled email or IP is refused. */
  IDENTITY_LOGIN_LOCKOUT_SECONDS: intSetting(1, 86_400).default(900),
  /** Behind a TLS-terminating proxy: trust `X-Forwarded-Proto`/`-For` (secure cookies, client IP). */
  IDENTITY_TRUST_PROXY: flagSetting().default(false),
  /** How often the service checks the key file for a rotation made by `rotate-keys`. */
  IDENTITY_KEYS_RELOAD_MS: intSetting(100, 3_600_000).default(2_000),
});

export type IdentityConfigSchema = typeof identityConfigSchema;
