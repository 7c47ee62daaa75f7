import type { Readable } from 'node:stream';

import type { BodyChunks } from './object-body.js';

export interface ObjectInfo {
  readonly sha256: string;
  readonly size: number;
  readonly contentType: string;
}

export interface ObjectListPage {
  readonly keys: string[];
  /** Present when more keys follow: pass it as `after` to get the next page. */
  readonly next?: string;
}

/**
 * What an adapter does. `tenant` is the encoded tenant segment; keys, options and bodies arrive
 * validated.
 */
export interface ObjectBackend {
  readonly adapter: 's3' | 'fs';
  put(
    tenant: string,
    key: string,
    body: BodyChunks,
    contentType: string,
    expectedSha256: string | undefined,
  ): Promise<{ sha256: string; size: number }>;
  putContent(
    tenant: string,
    body: BodyChunks,
    contentType: string,
  ): Promise<{ sha256: string; size: number }>;
  get(tenant: string, key: string): Promise<(ObjectInfo & { body: Readable }) | undefined>;
  head(tenant: string, key: string): Promise<ObjectInfo | undefined>;
  delete(tenant: string, key: string): Promise<boolean>;
  list(tenant: string, prefix: string, limit: number, after: string | undefined): Promise<ObjectListPage>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
