import { pipeline, type Readable } from 'node:stream';

import { newTurnId, type Principal } from '@aibox/identity';
import { ByteLimit, ServiceError, type Logger } from '@aibox/platform';
import { StoreError, type ObjectStore } from '@aibox/stores';

import type { CreateArtifactBody, ListArtifactsQuery } from '../dtos/artifact.dto.js';
import { ArtifactError } from '../errors/artifact.error.js';
import { SandboxError } from '../errors/sandbox.error.js';
import type { ArtifactRepository, ArtifactRow } from '../repositories/artifact.repository.js';
import type { SandboxAccess } from './sandbox-access.js';
import type { WorkspaceFiles } from './workspace-files.js';

/** Where the gateway serves this service: an artifact's `url` is the path a client downloads it by. */
const GATEWAY_PREFIX = '/v1/sandbox';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/**
 * Media types by extension, for the download's `content-type`. Text types carry no charset: the bytes are
 * whatever the program wrote. Anything else is `application/octet-stream`.
 */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  py: 'text/x-python',
  json: 'application/json',
  jsonl: 'application/jsonl',
  ipynb: 'application/x-ipynb+json',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  tar: 'application/x-tar',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  wasm: 'application/wasm',
  parquet: 'application/vnd.apache.parquet',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
};

/**
 * What artifacts need of sandboxes: a usable workspace to copy from (exactly the files API's check), and a
 * sandbox the caller may see, a deleted one included, to list, download and remove what was copied out.
 */
export interface ArtifactSandboxes extends SandboxAccess {
  visible(principal: Principal, id: string, options: { deleted?: boolean }): Promise<{ readonly id: string }>;
}

/** An artifact as callers see it. */
export interface ArtifactView {
  readonly id: string;
  readonly sandbox_id: string;
  /** The file it was copied from, as the sandbox saw it. */
  readonly path: string;
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
  readonly content_type: string;
  readonly created_at: string;
  /** Its download through the gateway. */
  readonly url: string;
}

/** An artifact's bytes, checked against its record, to be streamed to the caller. */
export interface ArtifactDownload {
  readonly artifact: ArtifactView;
  readonly body: Readable;
}

export function artifactView(row: ArtifactRow): ArtifactView {
  return {
    id: row.id,
    sandbox_id: row.sandbox_id,
    path: row.path,
    name: row.name,
    sha256: row.sha256,
    size: Number(row.size),
    content_type: row.content_type,
    created_at: row.created_at.toISOString(),
    url: `${GATEWAY_PREFIX}/sandboxes/${row.sandbox_id}/artifacts/${row.id}`,
  };
}

export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return DEFAULT_CONTENT_TYPE;
  return CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}

/**
 * The object key of an artifact, below the tenant. Prefixed with the service: S3 keys are not scoped by
 * service, and the services of a deployment share one bucket.
 */
function objectKey(sandboxId: string, id: string): string {
  return `code-sandbox/artifacts/${sandboxId}/${id}`;
}

/** An object store failure as the caller's answer: a refusal of the copy's source keeps its own code. */
function storeFailure(error: unknown): unknown {
  if (!(error instanceof StoreError)) return error;
  if (error.code === 'body_unreadable' && error.cause instanceof ServiceError) return error.cause;
  if (error.code === 'objects_unavailable') {
    return new ArtifactError('artifact_store_unavailable', undefined, { cause: error });
  }
  if (error.code === 'object_corrupt') return new ArtifactError('artifact_lost', undefined, { cause: error });
  return error;
}

/**
 * Artifacts (`/sandboxes/{id}/artifacts`): copies of workspace files in the object store, each with its
 * SHA-256, computed by the store as the bytes stream through. Copying out needs the sandbox usable (ready
 * or stopped), like the files API; the copies outlive changes to the workspace and the sandbox's deletion,
 * until they are removed one by one. Someone else's sandbox or artifact answers exactly like a missing one.
 */
export class ArtifactService {
  constructor(
    private readonly sandboxes: ArtifactSandboxes,
    private readonly files: WorkspaceFiles,
    private readonly artifacts: ArtifactRepository,
    private readonly objects: ObjectStore,
    private readonly maxBytes: number,
    private readonly logger: Logger,
  ) {}

  async create(principal: Principal, sandboxId: string, body: CreateArtifactBody): Promise<ArtifactView> {
    const sandbox = await this.sandboxes.usable(principal, sandboxId);
    const id = newTurnId();
    const key = objectKey(sandbox.id, id);
    const copied = await this.files
      .withFile(sandbox.workspaceDir, body.path, async (file) => {
        if (file.size > this.maxBytes) {
          throw new SandboxError(
            'file_too_large',
            `${file.path} is ${file.size} bytes; an artifact is at most ${this.maxBytes}`,
          );
        }
        const contentType = contentTypeOf(file.name);
        // The file may grow while it is copied: the limit holds for what is read, not what was measured.
        const limited = new ByteLimit(
          this.maxBytes,
          (max) =>
            new SandboxError('file_too_large', `${file.path} grew past ${max} bytes while it was copied`),
        );
        pipeline(file.content(), limited, () => undefined);
        const stored = await this.objects.put(principal.tid, key, limited, { contentType });
        return { ...stored, path: file.path, name: file.name, contentType };
      })
      .catch((error: unknown) => {
        throw storeFailure(error);
      });
    try {
      return artifactView(
        await this.artifacts.create(principal.tid, {
          id,
          sandboxId: sandbox.id,
          userId: principal.uid,
          path: copied.path,
          name: copied.name,
          objectKey: key,
          sha256: copied.sha256,
          size: copied.size,
          contentType: copied.contentType,
        }),
      );
    } catch (error: unknown) {
      await this.discard(principal.tid, key);
      throw error;
    }
  }

  async list(
    principal: Principal,
    sandboxId: string,
    query: ListArtifactsQuery,
  ): Promise<{ data: ArtifactView[] }> {
    const sandbox = await this.sandboxes.visible(principal, sandboxId, { deleted: true });
    const rows = await this.artifacts.list(principal.tid, sandbox.id, {
      limit: query.limit,
      after: query.after,
    });
    return { data: rows.map(artifactView) };
  }

  /** The artifact's bytes, once the object store's record of them agrees with the artifact's. */
  async download(principal: Principal, sandboxId: string, id: string): Promise<ArtifactDownload> {
    const row = await this.find(principal, sandboxId, id);
    const found = await this.objects.get(principal.tid, row.object_key).catch((error: unknown) => {
      throw storeFailure(error);
    });
    if (found === undefined) throw new ArtifactError('artifact_lost', 'its object is gone');
    if (found.sha256 !== row.sha256 || found.size !== Number(row.size)) {
      found.body.destroy();
      throw new ArtifactError('artifact_lost', 'its object does not match its record');
    }
    return { artifact: artifactView(row), body: found.body };
  }

  /**
   * The object goes first: when the store fails, the artifact stays whole and the delete can be retried;
   * a record left without its object by a failure after that answers `artifact_lost`, and goes on a retry.
   */
  async remove(principal: Principal, sandboxId: string, id: string): Promise<void> {
    const row = await this.find(principal, sandboxId, id);
    await this.objects.delete(principal.tid, row.object_key).catch((error: unknown) => {
      throw storeFailure(error);
    });
    if ((await this.artifacts.delete(principal.tid, row.sandbox_id, row.id)) === undefined) {
      throw new ArtifactError('artifact_unknown');
    }
  }

  private async find(principal: Principal, sandboxId: string, id: string): Promise<ArtifactRow> {
    const sandbox = await this.sandboxes.visible(principal, sandboxId, { deleted: true });
    const row = await this.artifacts.get(principal.tid, sandbox.id, id);
    if (row === undefined) throw new ArtifactError('artifact_unknown');
    return row;
  }

  /** Takes back an object whose record could not be written; left behind (and logged) if that fails too. */
  private async discard(tenantId: string, key: string): Promise<void> {
    try {
      await this.objects.delete(tenantId, key);
    } catch (error: unknown) {
      this.logger.warn(
        { err: error, object_key: key },
        'an artifact object without a record was left behind',
      );
    }
  }
}
