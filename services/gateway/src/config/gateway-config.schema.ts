import {
  ConfigError,
  enumSetting,
  flagSetting,
  intSetting,
  isBuiltInIdentityIssuer,
  secret,
  textSetting,
  urlSetting,
  type PlatformConfig,
} from '@aibox/platform';
import { z } from 'zod';

import { ROUTE_CLASSES, type RouteClass } from '../services/route-table.js';

export const TENANCY_MODES = ['single', 'multi'] as const;
export type TenancyMode = (typeof TENANCY_MODES)[number];

/** Time to the downstream's response headers, per route class, when `GATEWAY_TIMEOUTS` does not say. */
export const DEFAULT_TIMEOUTS_MS: Readonly<Record<RouteClass, number>> = {
  chat: 30_000,
  workspace: 30_000,
  memory: 10_000,
  guardrail: 10_000,
  knowledge: 60_000,
  audit: 15_000,
  inference: 30_000,
  sandbox: 120_000,
  admin: 30_000,
  gateway: 5_000,
};

/** Requests per principal per window, per route class, when `GATEWAY_RATE_LIMITS` does not say. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RouteClass, number>> = {
  chat: 60,
  workspace: 600,
  memory: 600,
  guardrail: 600,
  knowledge: 600,
  audit: 600,
  inference: 600,
  sandbox: 300,
  admin: 300,
  gateway: 600,
};

/**
 * `class=value` pairs separated by commas (`chat=60,sandbox=120`); classes left out keep `defaults`.
 * Values are integers in `[min, max]`.
 */
function routeClassMapSetting(
  defaults: Readonly<Record<RouteClass, number>>,
  min: number,
  max: number,
): z.ZodType<Readonly<Record<RouteClass, number>>, string> {
  const known: ReadonlySet<string> = new Set(ROUTE_CLASSES);
  return z.string().transform((raw, ctx) => {
    const result: Record<RouteClass, number> = { ...defaults };
    const entries = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    for (const [index, entry] of entries.entries()) {
      const match = /^([a-z-]+)\s*=\s*([0-9]+)$/.exec(entry);
      const name = match?.[1];
      const value = Number(match?.[2]);
      if (name === undefined || !known.has(name)) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${index + 1} is not <route class>=<integer> with a class among ${ROUTE_CLASSES.join(', ')}`,
        });
        return z.NEVER;
      }
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${index + 1} must be an integer between ${min} and ${max}`,
        });
        return z.NEVER;
      }
      result[name as RouteClass] = value;
    }
    return Object.freeze(result);
  });
}

/** The gateway's own settings (README: Settings), merged with the platform's base settings. */
export const gatewayConfigSchema = z.object({
  AUTH_AUDIENCE: textSetting().default('aibox-api'),
  AUTH_ROLES_CLAIM: textSetting().default('roles'),
  AUTH_TENANT_CLAIM: textSetting().default('tenant_id'),
  /** At most one JWKS refetch per issuer per this many seconds, however many unknown `kid`s arrive. */
  AUTH_JWKS_REFETCH_SECONDS: intSetting(1, 3600).default(30),
  /** A JWKS older than this is refetched before use. */
  AUTH_JWKS_MAX_AGE_SECONDS: intSetting(30, 86_400).default(600),
  TENANCY_MODE: enumSetting(TENANCY_MODES).default('single'),
  TENANCY_SINGLE_TENANT_ID: textSetting().default('default'),
  INTERNAL_AUTH_ISSUER: urlSetting().optional(),
  INTERNAL_AUTH_CLIENT_ID: textSetting().default('aibox-gateway'),
  INTERNAL_AUTH_CLIENT_SECRET: secret(textSetting().optional()),
  GATEWAY_STATIC_DIR: textSetting().optional(),
  /** The issuer the SPA signs people in with; default: the first accepted issuer. */
  GATEWAY_SPA_ISSUER: urlSetting().optional(),
  GATEWAY_SPA_CLIENT_ID: textSetting().default('aibox-spa'),
  GATEWAY_SPA_SCOPE: textSetting().default('openid profile email'),
  GATEWAY_BODY_LIMIT_BYTES: intSetting(1, 1_073_741_824).default(10_485_760),
  GATEWAY_MAX_HEADER_BYTES: intSetting(16_384, 1_048_576).default(98_304),
  GATEWAY_TIMEOUTS: routeClassMapSetting(DEFAULT_TIMEOUTS_MS, 1, 3_600_000).default(DEFAULT_TIMEOUTS_MS),
  GATEWAY_STREAM_IDLE_TIMEOUT_MS: intSetting(1, 86_400_000).default(300_000),
  GATEWAY_RATE_LIMIT_ENABLED: flagSetting().default(true),
  GATEWAY_RATE_LIMIT_WINDOW_SECONDS: intSetting(1, 86_400).default(60),
  GATEWAY_RATE_LIMITS: routeClassMapSetting(DEFAULT_RATE_LIMITS, 1, 10_000_000).default(DEFAULT_RATE_LIMITS),
});

export type GatewayConfig = PlatformConfig<typeof gatewayConfigSchema>;

/** How the SPA signs people in (`GET /v1/auth/config`): an OIDC client of one accepted issuer, or nobody. */
export type SpaSignIn =
  | { readonly mode: 'oidc'; readonly issuer: string; readonly clientId: string; readonly scope: string }
  | { readonly mode: 'disabled' };

/** What the gateway derives from its configuration at boot, after its own refusals. */
export interface GatewaySettings {
  /** Issuers whose user tokens are accepted (ARCHITECTURE §3). */
  readonly issuers: readonly string[];
  readonly spaSignIn: SpaSignIn;
  /** Where service tokens come from; undefined when no client secret is configured (development only). */
  readonly internalAuth:
    { readonly issuer: string; readonly clientId: string; readonly clientSecret: string } | undefined;
}

// An origin goes into the SPA's Content-Security-Policy as it is: nothing that could end a directive.
const CSP_SAFE_ORIGIN = /^https?:\/\/[\w.:[\]-]+$/;

/**
 * The SPA signs in with `GATEWAY_SPA_ISSUER` (default: the first accepted issuer), which must be accepted:
 * the gateway would refuse every token the SPA got from any other issuer.
 */
function resolveSpaSignIn(config: GatewayConfig, issuers: readonly string[]): SpaSignIn {
  if (!config.AUTH_ENABLED) return Object.freeze({ mode: 'disabled' });
  const issuer = config.GATEWAY_SPA_ISSUER ?? issuers[0];
  if (issuer === undefined) {
    throw new ConfigError('GATEWAY_SPA_ISSUER', 'has no default: AUTH_ISSUERS is empty', 'refused');
  }
  if (!issuers.includes(issuer)) {
    throw new ConfigError(
      'GATEWAY_SPA_ISSUER',
      `${issuer} is not an accepted issuer (AUTH_ISSUERS: ${issuers.join(', ')}); the gateway would refuse the SPA's tokens`,
      'refused',
    );
  }
  if (!CSP_SAFE_ORIGIN.test(new URL(issuer).origin)) {
    throw new ConfigError(
      'GATEWAY_SPA_ISSUER',
      `${issuer} has an origin that cannot be named in the SPA's Content-Security-Policy`,
      'refused',
    );
  }
  return Object.freeze({
    mode: 'oidc',
    issuer,
    clientId: config.GATEWAY_SPA_CLIENT_ID,
    scope: config.GATEWAY_SPA_SCOPE,
  });
}

/**
 * The gateway's refusals on top of the platform's, each one `ConfigError` line naming the setting:
 * production needs issuers and a service-token client secret, and the SPA's issuer must be accepted. In
 * development an empty `AUTH_ISSUERS` trusts the built-in identity service (`IDENTITY_URL`).
 */
export function resolveGatewaySettings(config: GatewayConfig): GatewaySettings {
  const production = config.AIBOX_ENV === 'production';
  let issuers = config.AUTH_ISSUERS;
  if (issuers.length === 0 && config.AUTH_ENABLED) {
    if (production) {
      throw new ConfigError(
        'AUTH_ISSUERS',
        'is required when AIBOX_ENV=production (the issuer URLs whose tokens the gateway accepts)',
        'refused',
      );
    }
    issuers = [config.IDENTITY_URL];
  }
  const spaSignIn = resolveSpaSignIn(config, issuers);
  const secretValue = config.INTERNAL_AUTH_CLIENT_SECRET;
  if (secretValue === undefined) {
    if (production) {
      throw new ConfigError(
        'INTERNAL_AUTH_CLIENT_SECRET',
        'is required when AIBOX_ENV=production (service-to-service tokens)',
        'refused',
      );
    }
    return Object.freeze({ issuers: Object.freeze([...issuers]), spaSignIn, internalAuth: undefined });
  }
  let issuer = config.INTERNAL_AUTH_ISSUER;
  if (issuer === undefined) {
    if (production) {
      throw new ConfigError('INTERNAL_AUTH_ISSUER', 'is required when AIBOX_ENV=production', 'refused');
    }
    issuer = config.IDENTITY_URL;
  }
  if (production && isBuiltInIdentityIssuer(issuer, config.IDENTITY_URL)) {
    throw new ConfigError(
      'INTERNAL_AUTH_ISSUER',
      `${issuer} is the built-in development identity service; AIBOX_ENV=production needs a real OIDC issuer`,
      'refused',
    );
  }
  return Object.freeze({
    issuers: Object.freeze([...issuers]),
    spaSignIn,
    internalAuth: Object.freeze({
      issuer,
      clientId: config.INTERNAL_AUTH_CLIENT_ID,
      clientSecret: secretValue,
    }),
  });
}
