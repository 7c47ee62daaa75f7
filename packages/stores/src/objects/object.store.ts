import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { StoreError } from '../store.js';
import type { Store } from '../store.js';
import { assertServiceName, assertTenantId, tenantSegment } from '../cache/namespace.js';
import type { ObjectBackend, ObjectInfo, ObjectListPage } from './object-backend.js';
import { bodyChunks } from './object-body.js';
import type { ObjectBody } from './object-body.js';
import { FsObjects } from './fs-objects.js';
import {
  assertListText,
  assertObjectKey,
  checkContentType,
  checkListLimit,
  checkSha256,
  contentKey,
} from './object-names.js';
import { S3Objects } from './s3-objects.js';
import type { S3Settings } from './s3-objects.js';

const DEFAULT_TIMEOUT_MS = 10_000;

export interface ObjectStoreOptions {
  /** The owning service, e.g. `audit`. */
  readonly service: string;
  /** MinIO or any S3 (`S3_ENDPOINT`, `S3_ACCESS_KEY`, `S3_SECRET_KEY`, `S3_BUCKET`). Wins over `dataDir`. */
  readonly s3?: S3Settings;
  /** Where the filesystem adapter keeps objects; default `${AIBOX_DATA_DIR:-.data}/<service>/objects`. */
  readonly dataDir?: string;
  /** S3 only: how long a request may wait for the response to start (default 10 000 ms). */
  readonly timeoutMs?: number;
}

export interface PutObjectOptions {
  /** Default `application/octet-stream`. */
  readonly contentType?: string;
  /** The body's SHA-256 (hex); on a mismatch nothing is stored and `checksum_mismatch` is thrown. */
  readonly expectedSha256?: string;
}

export interface ListObjectsOptions {
  /** Keys per page, 1..1000 (default 1000). */
  readonly limit?: number;
  /** Start after this key: the `next` of the previous page. */
  readonly after?: string;
}

export type { ObjectInfo, ObjectListPage, ObjectBody };

export interface ObjectStore extends Store {
  readonly kind: 'objects';
  readonly adapter: 's3' | 'fs';
  readonly service: string;
  /**
   * Streams `body` to `key`, hashing it on the way; replaces any object there, atomically (readers see
   * the old object or the new one).
   */
  put(
    tenantId: string,
    key: string,
    body: ObjectBody,
    options?: PutObjectOptions,
  ): Promise<{ sha256: string; size: number }>;
  /**
   * Stores `body` under `sha256/<hex>` of its own hash. Idempotent: the same bytes again leave the stored
   * object as it is (the first content type stays).
   */
  putContent(
    tenantId: string,
    body: ObjectBody,
    options?: { readonly contentType?: string },
  ): Promise<{ sha256: string; size: number; key: string }>;
  /** The object as a stream (read it to the end or destroy it), or undefined when absent. */
  get(tenantId: string, key: string): Promise<(ObjectInfo & { body: Readable }) | undefined>;
  head(tenantId: string, key: string): Promise<ObjectInfo | undefined>;
  /** True when there was an object to delete. */
  delete(tenantId: string, key: string): Promise<boolean>;
  /** Keys starting with `prefix`, in UTF-8 byte order, a page at a time. */
  list(tenantId: string, prefix?: string, options?: ListObjectsOptions): Promise<ObjectListPage>;
}

/** The one ObjectStore: validates and scopes to the tenant, then hands over to an adapter. */
class TenantObjects implements ObjectStore {
  readonly kind = 'objects';
  readonly service: string;
  readonly #backend: ObjectBackend;
  #closed = false;

  constructor(service: string, backend: ObjectBackend) {
    this.service = service;
    this.#backend = backend;
  }

  get adapter(): 's3' | 'fs' {
    return this.#backend.adapter;
  }

  async put(
    tenantId: string,
    key: string,
    body: ObjectBody,
    options: PutObjectOptions = {},
  ): Promise<{ sha256: string; size: number }> {
    const tenant = this.#tenant(tenantId);
    assertObjectKey(key);
    const contentType = checkContentType(options.contentType);
    const expectedSha256 = checkSha256(options.expectedSha256);
    return this.#open().put(tenant, key, bodyChunks(body), contentType, expectedSha256);
  }

  async putContent(
    tenantId: string,
    body: ObjectBody,
    options: { readonly contentType?: string } = {},
  ): Promise<{ sha256: string; size: number; key: string }> {
    const tenant = this.#tenant(tenantId);
    const contentType = checkContentType(options.contentType);
    const stored = await this.#open().putContent(tenant, bodyChunks(body), contentType);
    return { ...stored, key: contentKey(stored.sha256) };
  }

  async get(tenantId: string, key: string): Promise<(ObjectInfo & { body: Readable }) | undefined> {
    const tenant = this.#tenant(tenantId);
    assertObjectKey(key);
    return this.#open().get(tenant, key);
  }

  async head(tenantId: string, key: string): Promise<ObjectInfo | undefined> {
    const tenant = this.#tenant(tenantId);
    assertObjectKey(key);
    return this.#open().head(tenant, key);
  }

  async delete(tenantId: string, key: string): Promise<boolean> {
    const tenant = this.#tenant(tenantId);
    assertObjectKey(key);
    return this.#open().delete(tenant, key);
  }

  async list(tenantId: string, prefix = '', options: ListObjectsOptions = {}): Promise<ObjectListPage> {
    const tenant = this.#tenant(tenantId);
    assertListText('prefix', prefix);
    if (options.after !== undefined) assertListText('after', options.after);
    const limit = checkListLimit(options.limit);
    return this.#open().list(tenant, prefix, limit, options.after);
  }

  async ping(): Promise<void> {
    await this.#open().ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#backend.close();
  }

  #tenant(tenantId: string): string {
    assertTenantId(tenantId);
    return tenantSegment(tenantId);
  }

  #open(): ObjectBackend {
    if (this.#closed) throw new StoreError('store_closed', `the ${this.service} object store is closed`);
    return this.#backend;
  }
}

function defaultDataRoot(): string {
  const configured = process.env['AIBOX_DATA_DIR'];
  return configured === undefined || configured === '' ? '.data' : configured;
}

/**
 * Opens the service's object store: S3 when `s3` is set (bucket created if missing), files under
 * `dataDir` otherwise.
 */
export async function openObjectStore(options: ObjectStoreOptions): Promise<ObjectStore> {
  assertServiceName(options.service);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new StoreError('store_config_invalid', 'object store timeoutMs must be a positive integer');
  }
  const backend =
    options.s3 === undefined
      ? await FsObjects.open(options.dataDir ?? join(defaultDataRoot(), options.service, 'objects'))
      : await S3Objects.connect(options.s3, timeoutMs);
  return new TenantObjects(options.service, backend);
}
