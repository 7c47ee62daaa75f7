import { join, resolve } from 'node:path';

import { Module } from '@nestjs/common';

import { AuditClient } from '@aibox/audit-client';
import {
  CLOSEABLES,
  ConfigError,
  LOGGER,
  METRICS,
  PLATFORM_CONFIG,
  provideReadinessCheck,
  type Closeables,
  type Logger,
  type PlatformConfig,
  type Registry,
} from '@aibox/platform';
import { openSqlStore, type SqlStore } from '@aibox/stores';

import type { RouterConfigSchema } from './config/router-config.schema.js';
import { ProvidersController, RolesController } from './controllers/admin.controller.js';
import { BudgetsController, PricesController, UsageController } from './controllers/billing.controller.js';
import { InferenceController } from './controllers/inference.controller.js';
import { ModelsController, RoutesController } from './controllers/models.controller.js';
import { CredentialCipher } from './repositories/credential-cipher.js';
import { InferenceMetrics } from './repositories/inference-metrics.js';
import { ModelEventsRepository } from './repositories/model-events.repository.js';
import { ProviderClient } from './repositories/provider-client.js';
import { ROUTER_MIGRATIONS, type RouterTables } from './repositories/router-schema.js';
import { UsageRepository } from './repositories/usage.repository.js';
import { BillingAdmin } from './services/billing-admin.service.js';
import { RouterBootstrap } from './services/bootstrap.service.js';
import { CatalogService } from './services/catalog.service.js';
import { BreakerBoard } from './services/circuit-breaker.js';
import { Dispatcher } from './services/dispatch.service.js';
import { InferenceService } from './services/inference.service.js';
import { CallRecorder } from './services/model-call.js';
import { ModelResolver } from './services/model-resolver.js';
import { ProviderAdmin } from './services/provider-admin.service.js';
import { loadSnapshot, SnapshotHolder } from './services/routing-snapshot.js';
import { UsageMeter } from './services/usage-meter.js';

type RouterConfig = PlatformConfig<RouterConfigSchema>;

const ROUTER_SQL = Symbol('inference-router.SQL');
const CIPHER = Symbol('inference-router.CIPHER');
/** Resolved once the bootstrap ran and the first snapshot is built: the data path depends on it. */
const STARTED = Symbol('inference-router.STARTED');

/** Usage records kept in memory while the store is away (about a minute of a busy router). */
const MAX_QUEUED_USAGE = 100_000;

@Module({
  controllers: [
    ProvidersController,
    RolesController,
    PricesController,
    BudgetsController,
    UsageController,
    ModelsController,
    RoutesController,
    InferenceController,
  ],
  providers: [
    {
      provide: ROUTER_SQL,
      inject: [PLATFORM_CONFIG, CLOSEABLES],
      useFactory: async (config: RouterConfig, closeables: Closeables): Promise<SqlStore<RouterTables>> => {
        const sql = closeables.add(
          'sql',
          await openSqlStore<RouterTables>({
            service: 'inference-router',
            schema: config.INFERENCE_SQL_SCHEMA,
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
      provide: UsageRepository,
      inject: [ROUTER_SQL],
      useFactory: (sql: SqlStore<RouterTables>) => new UsageRepository(sql),
    },
    {
      provide: UsageMeter,
      inject: [PLATFORM_CONFIG, UsageRepository, LOGGER, CLOSEABLES],
      useFactory: (config: RouterConfig, usage: UsageRepository, logger: Logger, closeables: Closeables) =>
        // Registered after the SQL store, so it closes (and flushes) before the store does.
        closeables.add(
          'usage-meter',
          new UsageMeter(
            usage,
            { flushMs: config.INFERENCE_USAGE_FLUSH_MS, maxQueued: MAX_QUEUED_USAGE },
            logger.child({ component: 'usage-meter' }),
          ),
        ),
    },
    {
      provide: SnapshotHolder,
      inject: [PLATFORM_CONFIG, ROUTER_SQL, CIPHER, UsageMeter, LOGGER, CLOSEABLES],
      useFactory: (
        config: RouterConfig,
        sql: SqlStore<RouterTables>,
        cipher: CredentialCipher,
        meter: UsageMeter,
        logger: Logger,
        closeables: Closeables,
      ): SnapshotHolder =>
        closeables.add(
          'snapshot',
          new SnapshotHolder(
            () => loadSnapshot(sql, cipher, meter, logger),
            config.INFERENCE_SNAPSHOT_REFRESH_MS,
            logger,
          ),
        ),
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
    {
      provide: STARTED,
      inject: [PLATFORM_CONFIG, ROUTER_SQL, ProviderAdmin, SnapshotHolder, LOGGER],
      useFactory: async (
        config: RouterConfig,
        sql: SqlStore<RouterTables>,
        admin: ProviderAdmin,
        snapshot: SnapshotHolder,
        logger: Logger,
      ): Promise<true> => {
        if (config.INFERENCE_BOOTSTRAP) {
          await new RouterBootstrap(
            sql,
            admin,
            {
              localUrls: config.INFERENCE_BOOTSTRAP_LOCAL_URLS,
              openAiKey: config.OPENAI_API_KEY,
              openAiBaseUrl: config.OPENAI_BASE_URL,
            },
            logger.child({ component: 'bootstrap' }),
          ).run();
        }
        await snapshot.start();
        return true;
      },
    },
    {
      provide: BillingAdmin,
      inject: [ROUTER_SQL, UsageRepository, UsageMeter, SnapshotHolder],
      useFactory: (
        sql: SqlStore<RouterTables>,
        usage: UsageRepository,
        meter: UsageMeter,
        snapshot: SnapshotHolder,
      ) => new BillingAdmin(sql, usage, meter, () => snapshot.refresh()),
    },
    {
      provide: BreakerBoard,
      inject: [PLATFORM_CONFIG],
      useFactory: (config: RouterConfig) =>
        new BreakerBoard({
          failureThreshold: config.INFERENCE_BREAKER_FAILURES,
          cooldownMs: config.INFERENCE_BREAKER_COOLDOWN_MS,
        }),
    },
    {
      provide: ProviderClient,
      inject: [PLATFORM_CONFIG, CLOSEABLES],
      useFactory: (config: RouterConfig, closeables: Closeables) =>
        closeables.add(
          'provider-client',
          new ProviderClient({
            connectTimeoutMs: config.INFERENCE_CONNECT_TIMEOUT_MS,
            headersTimeoutMs: config.INFERENCE_FIRST_BYTE_TIMEOUT_MS,
            idleTimeoutMs: config.INFERENCE_IDLE_TIMEOUT_MS,
          }),
        ),
    },
    {
      provide: Dispatcher,
      inject: [PLATFORM_CONFIG, ProviderClient, BreakerBoard, LOGGER],
      useFactory: (config: RouterConfig, client: ProviderClient, breakers: BreakerBoard, logger: Logger) =>
        new Dispatcher(
          client,
          breakers,
          {
            maxRetries: config.INFERENCE_MAX_RETRIES,
            retryBaseMs: config.INFERENCE_RETRY_BASE_MS,
            retryMaxMs: config.INFERENCE_RETRY_MAX_MS,
            maxResponseBytes: config.INFERENCE_MAX_RESPONSE_BYTES,
          },
          logger,
        ),
    },
    {
      provide: ModelEventsRepository,
      inject: [PLATFORM_CONFIG, CLOSEABLES, LOGGER],
      useFactory: (config: RouterConfig, closeables: Closeables, logger: Logger) => {
        if (config.AIBOX_PRINCIPAL_KEYS === undefined) throw new Error('AIBOX_PRINCIPAL_KEYS missing');
        const client = closeables.add(
          'audit-client',
          new AuditClient({
            target: config.AUDIT_GRPC_URL,
            service: 'inference-router',
            principalKeys: config.AIBOX_PRINCIPAL_KEYS,
            spoolDir: join(config.AIBOX_DATA_DIR, 'inference-router', 'audit-spool'),
            logger: logger.child({ component: 'audit-client' }),
          }),
        );
        return new ModelEventsRepository(client);
      },
    },
    {
      provide: CallRecorder,
      inject: [PLATFORM_CONFIG, UsageMeter, ModelEventsRepository, METRICS],
      useFactory: (
        config: RouterConfig,
        meter: UsageMeter,
        events: ModelEventsRepository,
        registry: Registry,
      ) =>
        new CallRecorder(meter, events, new InferenceMetrics(registry), {
          captureMaxBytes: config.INFERENCE_CAPTURE_MAX_BYTES,
        }),
    },
    {
      provide: InferenceService,
      inject: [PLATFORM_CONFIG, SnapshotHolder, Dispatcher, UsageMeter, CallRecorder, STARTED],
      useFactory: (
        config: RouterConfig,
        snapshot: SnapshotHolder,
        dispatcher: Dispatcher,
        meter: UsageMeter,
        calls: CallRecorder,
      ) =>
        new InferenceService(snapshot, new ModelResolver(), dispatcher, meter, calls, {
          captureMaxBytes: config.INFERENCE_CAPTURE_MAX_BYTES,
        }),
    },
    {
      provide: CatalogService,
      inject: [SnapshotHolder, BreakerBoard, STARTED],
      useFactory: (snapshot: SnapshotHolder, breakers: BreakerBoard) =>
        new CatalogService(snapshot, breakers),
    },
    provideReadinessCheck('sql', {
      inject: [ROUTER_SQL],
      useFactory: (sql: SqlStore<RouterTables>) => () => sql.ping(),
    }),
  ],
})
export class RouterModule {}
