import { join, resolve } from 'node:path';

import type { Provider, Type } from '@nestjs/common';

import {
  CLOSEABLES,
  LOGGER,
  PLATFORM_CONFIG,
  type Closeables,
  type Logger,
  type PlatformConfig,
} from '@aibox/platform';
import { openObjectStore, type ObjectStore, type SqlStore } from '@aibox/stores';

import type { SandboxConfigSchema } from './config/sandbox-config.schema.js';
import { ArtifactsController } from './controllers/artifacts.controller.js';
import type { ArtifactTables } from './repositories/artifact-schema.js';
import { ArtifactRepository } from './repositories/artifact.repository.js';
import { SANDBOX_SQL } from './sandbox.tokens.js';
import { ArtifactService } from './services/artifact.service.js';
import { SandboxService } from './services/sandbox.service.js';
import { WorkspaceFiles } from './services/workspace-files.js';

type ArtifactsConfig = PlatformConfig<SandboxConfigSchema>;

/** The object store artifacts are copied into. */
const ARTIFACT_OBJECTS = Symbol('code-sandbox.ARTIFACT_OBJECTS');

export const ARTIFACT_CONTROLLERS: readonly Type[] = [ArtifactsController];

export const ARTIFACT_PROVIDERS: readonly Provider[] = [
  {
    provide: ARTIFACT_OBJECTS,
    inject: [PLATFORM_CONFIG, CLOSEABLES],
    // As audit opens its own: S3 when `S3_ENDPOINT` is set, files under the service's data dir otherwise.
    useFactory: async (config: ArtifactsConfig, closeables: Closeables): Promise<ObjectStore> =>
      closeables.add(
        'objects',
        await openObjectStore({
          service: 'code-sandbox',
          ...(config.S3_ENDPOINT === undefined
            ? { dataDir: join(resolve(config.AIBOX_DATA_DIR, 'code-sandbox'), 'objects') }
            : {
                s3: {
                  endpoint: config.S3_ENDPOINT,
                  accessKey: config.S3_ACCESS_KEY ?? '',
                  secretKey: config.S3_SECRET_KEY ?? '',
                  bucket: config.S3_BUCKET,
                },
              }),
        }),
      ),
  },
  {
    provide: ArtifactRepository,
    inject: [SANDBOX_SQL],
    useFactory: (sql: SqlStore<ArtifactTables>) => new ArtifactRepository(sql),
  },
  {
    provide: ArtifactService,
    inject: [PLATFORM_CONFIG, SandboxService, ArtifactRepository, ARTIFACT_OBJECTS, LOGGER],
    useFactory: (
      config: ArtifactsConfig,
      sandboxes: SandboxService,
      artifacts: ArtifactRepository,
      objects: ObjectStore,
      logger: Logger,
    ) =>
      new ArtifactService(
        sandboxes,
        // The same confinement as the files API: artifacts are read through it, never by a path of their own.
        new WorkspaceFiles({
          maxReadBytes: config.SANDBOX_FILE_READ_MAX_BYTES,
          maxWriteBytes: config.SANDBOX_FILE_WRITE_MAX_BYTES,
          maxArchiveBytes: config.SANDBOX_ARCHIVE_MAX_BYTES,
        }),
        artifacts,
        objects,
        config.SANDBOX_ARTIFACT_MAX_BYTES,
        logger.child({ component: 'artifacts' }),
      ),
  },
];
