import { unwatchFile, watchFile } from 'node:fs';
import { join, resolve } from 'node:path';

import { ConfigError, type Closeables, type PlatformConfig } from '@aibox/platform';
import { openCacheStore, openSqlStore } from '@aibox/stores';
import type { Logger } from '@aibox/platform';

import type { IdentityConfigSchema } from '../config/identity-config.schema.js';
import { DEFAULT_CONFIG_FILE, loadIdentityFile } from '../repositories/identity-file.repository.js';
import { OidcStateRepository, type OidcStateTables } from '../repositories/oidc-state.repository.js';
import { ensurePrivateDir } from '../repositories/private-file.js';
import {
  loadSigningKeys,
  readSigningKeys,
  signingKeysFile,
  toKeySet,
} from '../repositories/signing-keys.repository.js';
import { AccountDirectory } from './account.service.js';
import { IdentityProvider } from './identity-provider.service.js';
import { InteractionService } from './interaction.service.js';
import { LoginThrottle } from './login-throttle.service.js';

export type IdentityConfig = PlatformConfig<IdentityConfigSchema>;

/** Clock skew verifiers allow (ARCHITECTURE §3), added to how long a retired key must still verify. */
const VERIFIER_SKEW_SECONDS = 60;
const EXPIRED_STATE_SWEEP_MS = 10 * 60_000;
/** Shorter internal client secrets are refused in production (as short HMAC keys are). */
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/** What the identity service runs on, built once at boot. */
export interface IdentityRuntime {
  identity: IdentityProvider;
  interactions: InteractionService;
  state: OidcStateRepository;
}

/** `$AIBOX_DATA_DIR/identity`: keys, the seeded config file, the development logins, PGlite. */
export function identityDataDir(config: Pick<IdentityConfig, 'AIBOX_DATA_DIR'>): string {
  return resolve(config.AIBOX_DATA_DIR, 'identity');
}

/** How long a retired signing key stays in the JWKS: until every token it signed has expired. */
export function keyRetentionSeconds(
  config: Pick<IdentityConfig, 'IDENTITY_ACCESS_TOKEN_TTL_SECONDS'>,
): number {
  return config.IDENTITY_ACCESS_TOKEN_TTL_SECONDS + VERIFIER_SKEW_SECONDS;
}

function checkProduction(config: IdentityConfig): void {
  if (config.AIBOX_ENV !== 'production') return;
  if (!config.IDENTITY_ISSUER.startsWith('https://')) {
    throw new ConfigError('IDENTITY_ISSUER', 'AIBOX_ENV=production requires an https:// issuer', 'refused');
  }
  const secret = config.INTERNAL_AUTH_CLIENT_SECRET;
  if (secret !== undefined && secret.length < MIN_PRODUCTION_SECRET_LENGTH) {
    throw new ConfigError(
      'INTERNAL_AUTH_CLIENT_SECRET',
      `is shorter than ${MIN_PRODUCTION_SECRET_LENGTH} characters; AIBOX_ENV=production refuses it`,
      'refused',
    );
  }
}

/**
 * Loads users, clients and keys, opens the state and throttling stores, and starts oidc-provider. Throws a
 * `ConfigError` (exit 78) for a missing or invalid config file or a refused production setting.
 */
export async function createIdentityRuntime(
  config: IdentityConfig,
  logger: Logger,
  closeables: Closeables,
): Promise<IdentityRuntime> {
  checkProduction(config);
  const dataDir = identityDataDir(config);
  await ensurePrivateDir(dataDir);
  const file = config.IDENTITY_CONFIG_FILE ?? join(dataDir, DEFAULT_CONFIG_FILE);
  const loaded = await loadIdentityFile({ file, dataDir, seed: config.AIBOX_ENV === 'development' });
  if (loaded.seeded) {
    logger.warn(
      { file },
      'created a development identity file with two users; logins in dev-credentials.txt',
    );
  }

  const retention = keyRetentionSeconds(config);
  const keys = toKeySet(await loadSigningKeys(dataDir, retention));

  const sql = closeables.add(
    'sql',
    await openSqlStore<OidcStateTables>({
      service: 'identity',
      ...(config.DATABASE_URL === undefined
        ? { dataDir: join(dataDir, 'pglite') }
        : { databaseUrl: config.DATABASE_URL }),
    }),
  );
  const state = await OidcStateRepository.open(sql);
  const cache = closeables.add(
    'cache',
    await openCacheStore({
      service: 'identity',
      ...(config.REDIS_URL === undefined ? {} : { redisUrl: config.REDIS_URL }),
    }),
  );

  const secret = config.INTERNAL_AUTH_CLIENT_SECRET;
  if (secret === undefined) {
    logger.warn('INTERNAL_AUTH_CLIENT_SECRET is not set: no client can get service-to-service tokens');
  }
  const accounts = new AccountDirectory(loaded.content.users);
  const identity = new IdentityProvider(
    {
      settings: {
        issuer: config.IDENTITY_ISSUER,
        apiAudience: config.AUTH_AUDIENCE,
        internalAudience: config.INTERNAL_AUTH_AUDIENCE,
        internalClient: secret === undefined ? undefined : { id: config.INTERNAL_AUTH_CLIENT_ID, secret },
        accessTokenTtlSeconds: config.IDENTITY_ACCESS_TOKEN_TTL_SECONDS,
        refreshTokenTtlSeconds: config.IDENTITY_REFRESH_TOKEN_TTL_SECONDS,
        accessTokenAlg: config.IDENTITY_ACCESS_TOKEN_ALG,
      },
      accounts,
      fileClients: loaded.content.clients,
      adapter: (model) => state.adapterFor(model),
      logger,
    },
    keys,
    config.IDENTITY_TRUST_PROXY,
  );
  const throttle = new LoginThrottle({
    cache,
    maxFailures: config.IDENTITY_LOGIN_MAX_FAILURES,
    lockoutSeconds: config.IDENTITY_LOGIN_LOCKOUT_SECONDS,
  });
  const interactions = new InteractionService(
    identity,
    accounts,
    throttle,
    logger,
    config.IDENTITY_TRUST_PROXY,
  );

  // A rotation (rotate-keys.js) rewrites the key file; the provider follows without a restart.
  const keysFile = signingKeysFile(dataDir);
  const onKeysChanged = (): void => {
    readSigningKeys(dataDir).then(
      (file) => {
        if (file !== undefined) identity.reload(toKeySet(file));
      },
      (error: unknown) => {
        logger.error({ err: error }, 'the changed signing key file cannot be used; keeping the keys in use');
      },
    );
  };
  watchFile(keysFile, { interval: config.IDENTITY_KEYS_RELOAD_MS, persistent: false }, onKeysChanged);
  closeables.add('keys-watch', {
    close: () => {
      unwatchFile(keysFile, onKeysChanged);
    },
  });

  const sweep = setInterval(() => {
    state.deleteExpired().catch((error: unknown) => {
      logger.warn({ err: error }, 'deleting expired oidc state failed');
    });
  }, EXPIRED_STATE_SWEEP_MS).unref();
  closeables.add('state-sweep', {
    close: () => {
      clearInterval(sweep);
    },
  });

  logger.info(
    {
      issuer: config.IDENTITY_ISSUER,
      users: loaded.content.users.length,
      signing_kids: keys.activeKids,
      state_store: sql.adapter,
      throttle_store: cache.adapter,
    },
    'identity provider ready',
  );
  return { identity, interactions, state };
}
