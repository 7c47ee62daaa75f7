import { join, resolve } from 'node:path';

import { Module } from '@nestjs/common';

import {
  CLOSEABLES,
  ConfigError,
  PLATFORM_CONFIG,
  provideReadinessCheck,
  type Closeables,
  type PlatformConfig,
} from '@aibox/platform';
import { openSqlStore, type SqlStore } from '@aibox/stores';

import type { RouterConfigSchema } from './config/router-config.schema.js';
import { ProvidersController, RolesController } from './controllers/admin.controller.js';
import { CredentialCipher } from './repositories/credential-cipher.js';
import { ROUTER_MIGRATIONS, type RouterTables } from './repositories/router-schema.js';
import { ProviderAdmin } from './services/provider-admin.service.js';

type RouterConfig = PlatformConfig<RouterConfigSchema>;

const ROUTER_SQL = Symbol('inference-router.SQL');

@Module({
  controllers: [ProvidersController, RolesController],
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
      provide: ProviderAdmin,
      inject: [PLATFORM_CONFIG, ROUTER_SQL],
      useFactory: (config: RouterConfig, sql: SqlStore<RouterTables>) => {
        if (config.AIBOX_CREDENTIALS_KEY === undefined) {
          throw new ConfigError(
            'AIBOX_CREDENTIALS_KEY',
            'is required: provider keys are encrypted with it',
            'invalid',
          );
        }
        return new ProviderAdmin(sql, new CredentialCipher(config.AIBOX_CREDENTIALS_KEY), {
          probeTimeoutMs: config.INFERENCE_PROBE_TIMEOUT_MS,
        });
      },
    },
    provideReadinessCheck('sql', {
      inject: [ROUTER_SQL],
      useFactory: (sql: SqlStore<RouterTables>) => () => sql.ping(),
    }),
  ],
})
export class RouterModule {}
