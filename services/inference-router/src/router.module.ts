import { join, resolve } from 'node:path';

import { Module } from '@nestjs/common';

import {
  CLOSEABLES,
  ConfigError,
  LOGGER,
  PLATFORM_CONFIG,
  provideReadinessCheck,
  type Closeables,
  type Logger,
  type PlatformConfig,
} from '@aibox/platform';
import { openSqlStore, type SqlStore } from '@aibox/stores';

import type { RouterConfigSchema } from './config/router-config.schema.js';
import { ProvidersController, RolesController } from './controllers/admin.controller.js';
import { ModelsController } from './controllers/models.controller.js';
import { CredentialCipher } from './repositories/credential-cipher.js';
import { ROUTER_MIGRATIONS, type RouterTables } from './repositories/router-schema.js';
import { ProviderAdmin } from './services/provider-admin.service.js';
import { loadSnapshot, SnapshotHolder } from './services/routing-snapshot.js';

type RouterConfig = PlatformConfig<RouterConfigSchema>;

const ROUTER_SQL = Symbol('inference-router.SQL');
const CIPHER = Symbol('inference-router.CIPHER');

@Module({
  controllers: [ProvidersController, RolesController, ModelsController],
  providers: [
    {
      provide: ROUTER_SQL,
      inject: [PLATFORM_CONFIG, CLOSEABLES],
      useFactory: async (config: RouterConfig, closeables: Closeables): Promise<SqlStore<RouterTables>> => {
        const sql = closeables.add(
          'sql',
          await openSqlStore<RouterTables>({
            service: 'inference-router',
            ...(config.DATABASE_URL === undefined
              ? { dataDir: join(resolve(config.AIBOX_DATA_DIR, 'inference-router'), 'pglite') }
              : { databaseUrl: config.DATABASE_URL }),
          }),
        );
        await sql.migrate(ROUTER_MIGRATIONS);
        return sql;
      },
    },
    {
      provide: CIPHER,
      inject: [PLATFORM_CONFIG],
      useFactory: (config: RouterConfig): CredentialCipher => {
        if (config.AIBOX_CREDENTIALS_KEY === undefined) {
          throw new ConfigError(
            'AIBOX_CREDENTIALS_KEY',
            'is required: provider keys are encrypted with it',
            'invalid',
          );
        }
        return new CredentialCipher(config.AIBOX_CREDENTIALS_KEY);
      },
    },
    {
      provide: SnapshotHolder,
      inject: [PLATFORM_CONFIG, ROUTER_SQL, CIPHER, LOGGER, CLOSEABLES],
      useFactory: async (
        config: RouterConfig,
        sql: SqlStore<RouterTables>,
        cipher: CredentialCipher,
        logger: Logger,
        closeables: Closeables,
      ): Promise<SnapshotHolder> => {
        const holder = new SnapshotHolder(
          () => loadSnapshot(sql, cipher, logger),
          config.INFERENCE_SNAPSHOT_REFRESH_MS,
          logger,
        );
        await holder.start();
        return closeables.add('snapshot', holder);
      },
    },
    {
      provide: ProviderAdmin,
      inject: [PLATFORM_CONFIG, ROUTER_SQL, CIPHER, SnapshotHolder],
      useFactory: (
        config: RouterConfig,
        sql: SqlStore<RouterTables>,
        cipher: CredentialCipher,
        snapshot: SnapshotHolder,
      ) =>
        new ProviderAdmin(sql, cipher, {
          probeTimeoutMs: config.INFERENCE_PROBE_TIMEOUT_MS,
          onChange: () => snapshot.refresh(),
        }),
    },
    provideReadinessCheck('sql', {
      inject: [ROUTER_SQL],
      useFactory: (sql: SqlStore<RouterTables>) => () => sql.ping(),
    }),
  ],
})
export class RouterModule {}
