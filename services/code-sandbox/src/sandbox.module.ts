import { join, resolve } from 'node:path';

import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

import {
  CLOSEABLES,
  LOGGER,
  PLATFORM_CONFIG,
  provideReadinessCheck,
  provideReadinessDetail,
  type Closeables,
  type Logger,
  type PlatformConfig,
} from '@aibox/platform';
import { openSqlStore, type SqlStore } from '@aibox/stores';

import { ARTIFACT_CONTROLLERS, ARTIFACT_PROVIDERS } from './artifacts.providers.js';
import type { SandboxConfigSchema } from './config/sandbox-config.schema.js';
import { CREDENTIAL_CONTROLLERS, CREDENTIAL_PROVIDERS } from './credentials.providers.js';
import { ARTIFACT_MIGRATIONS, type ArtifactTables } from './repositories/artifact-schema.js';
import { CREDENTIAL_MIGRATIONS, type CredentialTables } from './repositories/credential-schema.js';
import { SANDBOX_SQL } from './sandbox.tokens.js';
import { EventsController } from './controllers/events.controller.js';
import { ExecsController } from './controllers/execs.controller.js';
import { FilesController } from './controllers/files.controller.js';
import { PoolController } from './controllers/pool.controller.js';
import { SandboxesController } from './controllers/sandboxes.controller.js';
import { SandboxGrpcController } from './grpc/sandbox.grpc.controller.js';
import { registerTarParser } from './controllers/tar-body.js';
import { ExecRepository } from './repositories/exec.repository.js';
import { SANDBOX_MIGRATIONS, type SandboxTables } from './repositories/sandbox-schema.js';
import { PoolRepository } from './repositories/pool.repository.js';
import { SandboxRepository } from './repositories/sandbox.repository.js';
import { DockerRuntime } from './runtimes/docker.runtime.js';
import { ProcessRuntime } from './runtimes/process.runtime.js';
import type { RuntimeName, SandboxRuntime } from './runtimes/sandbox-runtime.js';
import { EventHub } from './services/event-hub.js';
import { EventStream } from './services/event-stream.js';
import { ExecFollower } from './services/exec-follow.js';
import { ExecService } from './services/exec.service.js';
import { CredentialService } from './services/credential.service.js';
import { EgressPolicy, EgressProxies } from './services/egress-proxy.js';
import { FilesService } from './services/files.service.js';
import { RepositoryCloner } from './services/git-clone.js';
import { HostPathPolicy } from './services/host-paths.js';
import { ProvisioningInputs } from './services/provisioning-inputs.js';
import { SANDBOX_ACCESS } from './services/sandbox-access.js';
import { SandboxDirs } from './services/sandbox-dirs.js';
import { SandboxService } from './services/sandbox.service.js';
import { WarmPool } from './services/warm-pool.js';
import { WorkspaceFiles } from './services/workspace-files.js';

type SandboxConfig = PlatformConfig<SandboxConfigSchema>;

const RUNTIMES = Symbol('code-sandbox.RUNTIMES');
/** Resolved once restart recovery ran: nothing is served before the store and the machine agree. */
const RECOVERED = Symbol('code-sandbox.RECOVERED');

@Module({
  controllers: [
    SandboxesController,
    SandboxGrpcController,
    EventsController,
    ExecsController,
    FilesController,
    PoolController,
    ...CREDENTIAL_CONTROLLERS,
    ...ARTIFACT_CONTROLLERS,
  ],
  providers: [
    {
      provide: SANDBOX_SQL,
      inject: [PLATFORM_CONFIG, CLOSEABLES],
      useFactory: async (
        config: SandboxConfig,
        closeables: Closeables,
      ): Promise<SqlStore<SandboxTables & CredentialTables & ArtifactTables>> => {
        const sql = closeables.add(
          'sql',
          await openSqlStore<SandboxTables & CredentialTables & ArtifactTables>({
            service: 'code-sandbox',
            schema: config.SANDBOX_SQL_SCHEMA,
            ...(config.DATABASE_URL === undefined
              ? { dataDir: join(resolve(config.AIBOX_DATA_DIR, 'code-sandbox'), 'pglite') }
              : { databaseUrl: config.DATABASE_URL }),
          }),
        );
        // One call: the migrator refuses a run that does not list every migration applied before.
        await sql.migrate({ ...SANDBOX_MIGRATIONS, ...CREDENTIAL_MIGRATIONS, ...ARTIFACT_MIGRATIONS });
        return sql;
      },
    },
    {
      provide: SandboxRepository,
      inject: [SANDBOX_SQL],
      useFactory: (sql: SqlStore<SandboxTables>) => new SandboxRepository(sql),
    },
    {
      provide: PoolRepository,
      inject: [SANDBOX_SQL],
      useFactory: (sql: SqlStore<SandboxTables>) => new PoolRepository(sql),
    },
    {
      provide: ExecRepository,
      inject: [SANDBOX_SQL],
      useFactory: (sql: SqlStore<SandboxTables>) => new ExecRepository(sql),
    },
    ...CREDENTIAL_PROVIDERS,
    ...ARTIFACT_PROVIDERS,
    { provide: EventHub, useFactory: () => new EventHub() },
    {
      provide: SandboxDirs,
      inject: [PLATFORM_CONFIG],
      useFactory: (config: SandboxConfig) =>
        new SandboxDirs(join(resolve(config.AIBOX_DATA_DIR, 'code-sandbox'), 'sandboxes')),
    },
    {
      provide: RUNTIMES,
      inject: [PLATFORM_CONFIG, LOGGER],
      useFactory: (config: SandboxConfig, logger: Logger): ReadonlyMap<RuntimeName, SandboxRuntime> =>
        new Map<RuntimeName, SandboxRuntime>([
          ...(['docker', 'gvisor'] as const).map(
            (name) =>
              [
                name,
                new DockerRuntime({
                  name,
                  image: config.SANDBOX_DEFAULT_IMAGE,
                  socketPath: config.SANDBOX_DOCKER_SOCKET,
                  labelPrefix: config.SANDBOX_CONTAINER_LABEL,
                  logger: logger.child({ runtime: name }),
                }),
              ] as const,
          ),
          [
            'process',
            new ProcessRuntime({
              bwrapPath: config.SANDBOX_BWRAP_PATH,
              cgroupPrefix: config.SANDBOX_CGROUP_PREFIX,
              logger: logger.child({ runtime: 'process' }),
            }),
          ],
        ]),
    },
    {
      provide: RepositoryCloner,
      inject: [PLATFORM_CONFIG, SandboxDirs, CredentialService, LOGGER],
      useFactory: (
        config: SandboxConfig,
        dirs: SandboxDirs,
        credentials: CredentialService,
        logger: Logger,
      ) =>
        new RepositoryCloner(
          {
            allowedHosts: config.SANDBOX_GIT_ALLOWED_HOSTS,
            maxBytes: config.SANDBOX_GIT_MAX_BYTES,
            timeoutS: config.SANDBOX_GIT_CLONE_TIMEOUT_S,
          },
          new WorkspaceFiles({
            maxReadBytes: config.SANDBOX_FILE_READ_MAX_BYTES,
            maxWriteBytes: config.SANDBOX_FILE_WRITE_MAX_BYTES,
            maxArchiveBytes: config.SANDBOX_ARCHIVE_MAX_BYTES,
          }),
          dirs,
          credentials,
          logger.child({ component: 'git' }),
        ),
    },
    {
      provide: SandboxService,
      inject: [
        PLATFORM_CONFIG,
        SandboxRepository,
        ExecRepository,
        RUNTIMES,
        EventHub,
        SandboxDirs,
        CredentialService,
        LOGGER,
        CLOSEABLES,
        RepositoryCloner,
        ProvisioningInputs,
        EgressProxies,
        WarmPool,
      ],
      useFactory: (
        config: SandboxConfig,
        sandboxes: SandboxRepository,
        execs: ExecRepository,
        runtimes: ReadonlyMap<RuntimeName, SandboxRuntime>,
        hub: EventHub,
        dirs: SandboxDirs,
        credentials: CredentialService,
        logger: Logger,
        closeables: Closeables,
        repositories: RepositoryCloner,
        inputs: ProvisioningInputs,
        egress: EgressProxies,
        pool: WarmPool,
      ) =>
        closeables.add(
          'sandboxes',
          new SandboxService(
            sandboxes,
            execs,
            runtimes,
            hub,
            dirs,
            {
              runtime: config.SANDBOX_DEFAULT_RUNTIME,
              image: config.SANDBOX_DEFAULT_IMAGE,
              cpus: config.SANDBOX_DEFAULT_CPUS,
              memoryMb: config.SANDBOX_DEFAULT_MEMORY_MB,
              pids: config.SANDBOX_DEFAULT_PIDS,
              diskMb: config.SANDBOX_DEFAULT_DISK_MB,
              pipelineTimeoutS: config.SANDBOX_PIPELINE_TIMEOUT_S,
              quota: {
                sandboxes: config.SANDBOX_QUOTA_SANDBOXES,
                cpus: config.SANDBOX_QUOTA_CPUS,
                memoryMb: config.SANDBOX_QUOTA_MEMORY_MB,
              },
            },
            credentials,
            logger.child({ component: 'sandboxes' }),
            repositories,
            inputs,
            egress,
            pool,
          ),
        ),
    },
    {
      provide: EgressProxies,
      inject: [PLATFORM_CONFIG, SandboxDirs, LOGGER],
      useFactory: (config: SandboxConfig, dirs: SandboxDirs, logger: Logger) =>
        new EgressProxies(
          dirs,
          new EgressPolicy({
            privateHosts: config.SANDBOX_EGRESS_PRIVATE_HOSTS,
            ports: config.SANDBOX_EGRESS_PORTS,
          }),
          logger.child({ component: 'egress' }),
        ),
    },
    {
      provide: WarmPool,
      inject: [
        PLATFORM_CONFIG,
        PoolRepository,
        RUNTIMES,
        SandboxDirs,
        ProvisioningInputs,
        LOGGER,
        CLOSEABLES,
      ],
      useFactory: (
        config: SandboxConfig,
        entries: PoolRepository,
        runtimes: ReadonlyMap<RuntimeName, SandboxRuntime>,
        dirs: SandboxDirs,
        inputs: ProvisioningInputs,
        logger: Logger,
        closeables: Closeables,
      ) =>
        closeables.add(
          'pool',
          new WarmPool(
            entries,
            runtimes,
            dirs,
            inputs,
            config.SANDBOX_POOL,
            config.SANDBOX_DEFAULT_IMAGE,
            {
              cpus: config.SANDBOX_DEFAULT_CPUS,
              memory_mb: config.SANDBOX_DEFAULT_MEMORY_MB,
              pids: config.SANDBOX_DEFAULT_PIDS,
              disk_mb: config.SANDBOX_DEFAULT_DISK_MB,
            },
            logger.child({ component: 'pool' }),
          ),
        ),
    },
    {
      provide: ProvisioningInputs,
      inject: [PLATFORM_CONFIG, SandboxDirs],
      useFactory: (config: SandboxConfig, dirs: SandboxDirs) =>
        new ProvisioningInputs(
          new HostPathPolicy({
            roots: config.SANDBOX_MOUNT_ROOTS,
            // The service's own data (every sandbox's directory, the database) and the Docker Engine.
            protectedPaths: [resolve(config.AIBOX_DATA_DIR), config.SANDBOX_DOCKER_SOCKET],
          }),
          dirs,
          // Copies are bounded by SANDBOX_COPY_MAX_BYTES as they are packed, not by the archive limits.
          new WorkspaceFiles({
            maxReadBytes: config.SANDBOX_FILE_READ_MAX_BYTES,
            maxWriteBytes: config.SANDBOX_FILE_WRITE_MAX_BYTES,
            maxArchiveBytes: Number.MAX_SAFE_INTEGER,
          }),
          config.SANDBOX_COPY_MAX_BYTES,
        ),
    },
    { provide: SANDBOX_ACCESS, useExisting: SandboxService },
    {
      provide: ExecService,
      inject: [
        PLATFORM_CONFIG,
        SandboxService,
        SandboxRepository,
        ExecRepository,
        SandboxDirs,
        EventHub,
        LOGGER,
      ],
      useFactory: (
        config: SandboxConfig,
        sandboxes: SandboxService,
        rows: SandboxRepository,
        execs: ExecRepository,
        dirs: SandboxDirs,
        hub: EventHub,
        logger: Logger,
      ) =>
        new ExecService(
          sandboxes,
          rows,
          execs,
          dirs,
          new ExecFollower(execs, hub),
          { waitMaxS: config.SANDBOX_EXEC_WAIT_MAX_S, outputMaxBytes: config.SANDBOX_EXEC_OUTPUT_MAX_BYTES },
          logger.child({ component: 'execs' }),
        ),
    },
    {
      provide: RECOVERED,
      inject: [SandboxService, ExecService, WarmPool, LOGGER],
      useFactory: async (
        sandboxes: SandboxService,
        execs: ExecService,
        pool: WarmPool,
        logger: Logger,
      ): Promise<true> => {
        // Execs first: a sandbox failed or deleted below must not leave its execs marked running.
        const ended = await execs.recover();
        const closed = await sandboxes.recover();
        // The pool's entries after the sandboxes': the orphan sweep above spared them, this adopts or destroys.
        const pooled = await pool.recover();
        if (ended.exited + ended.adopted + ended.lost + closed.failed + closed.deleted + closed.orphans > 0) {
          logger.info({ ...ended, ...closed }, 'reconciled the store with the machine');
        }
        if (pooled.adopted + pooled.destroyed > 0) {
          logger.info(
            { pool_adopted: pooled.adopted, pool_destroyed: pooled.destroyed },
            'reconciled the warm pool',
          );
        }
        // Filled in the background: the service serves while the pool is made.
        pool.start();
        return true;
      },
    },
    {
      provide: EventStream,
      inject: [SandboxService, SandboxRepository, EventHub, RECOVERED],
      useFactory: (sandboxes: SandboxService, rows: SandboxRepository, hub: EventHub) =>
        new EventStream(sandboxes, rows, hub),
    },
    {
      provide: FilesService,
      inject: [PLATFORM_CONFIG, SANDBOX_ACCESS],
      useFactory: (config: SandboxConfig, access: SandboxService) =>
        new FilesService(
          access,
          new WorkspaceFiles({
            maxReadBytes: config.SANDBOX_FILE_READ_MAX_BYTES,
            maxWriteBytes: config.SANDBOX_FILE_WRITE_MAX_BYTES,
            maxArchiveBytes: config.SANDBOX_ARCHIVE_MAX_BYTES,
          }),
        ),
    },
    provideReadinessCheck('sql', {
      inject: [SANDBOX_SQL],
      useFactory: (sql: SqlStore<SandboxTables>) => () => sql.ping(),
    }),
    // A runtime the machine lacks is refused per sandbox (`runtime_unavailable`); the service stays ready.
    provideReadinessDetail('runtimes', {
      inject: [RUNTIMES],
      useFactory: (runtimes: ReadonlyMap<RuntimeName, SandboxRuntime>) => async () =>
        Object.fromEntries(
          await Promise.all(
            [...runtimes].map(async ([name, runtime]) => {
              const availability = await runtime.available();
              return [
                name,
                availability.ok ? { available: true } : { available: false, reason: availability.reason },
              ] as const;
            }),
          ),
        ),
    }),
  ],
})
export class SandboxModule implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  /** Archive uploads stream in as `application/x-tar` (see `registerTarParser`). */
  onModuleInit(): void {
    registerTarParser(this.adapterHost.httpAdapter.getInstance<FastifyInstance>());
  }
}
