import { createHash, randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';

import { StoreError } from '../store.js';
import { describeError } from '../cache/namespace.js';
import type { ObjectBackend, ObjectInfo, ObjectListPage } from './object-backend.js';
import type { BodyChunks } from './object-body.js';
import {
  compareKeys,
  contentKey,
  decodeSegment,
  encodeSegment,
  isSha256Hex,
  objectKeySegments,
} from './object-names.js';

// On disk, object `a/b/c` of a tenant is the file `<root>/<tenant>/a/b/c%obj`. Directory names are
// encoded segments, whose every `%` is followed by `25`; file names end in `%obj`, which no encoded
// segment can, so key `a` (a file) and key `a/b` (under a directory) never clash.
const OBJECT_SUFFIX = '%obj';
// Writes go to `<root>/.tmp/` first; an encoded tenant segment never starts with `.`.
const TEMP_DIR = '.tmp';
const STALE_TEMP_MS = 60 * 60 * 1000;
// Each object file starts with one JSON line, `{"v":1,"sha256":…,"contentType":…}\n`, then the body.
// The line is written with a placeholder hash before the body and rewritten in place (same length)
// once the hash is known.
const HEADER_READ_BYTES = 1024;
const PLACEHOLDER_SHA256 = '0'.repeat(64);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function header(sha256: string, contentType: string): Buffer {
  return Buffer.from(`${JSON.stringify({ v: 1, sha256, contentType })}\n`, 'utf8');
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

interface WrittenTemp {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

interface Child {
  /** The key of a file, or the key prefix (ending in `/`) of a directory. */
  readonly key: string;
  readonly name: string;
  readonly directory: boolean;
}

/**
 * The filesystem adapter, for `make dev` and tests. A write streams into a temp file while hashing,
 * fsyncs it and renames it into place, so a reader (or a crash) sees the old object or the new one,
 * never half of one.
 */
export class FsObjects implements ObjectBackend {
  readonly adapter = 'fs';
  readonly #root: string;
  readonly #tempDir: string;

  private constructor(root: string) {
    this.#root = root;
    this.#tempDir = join(root, TEMP_DIR);
  }

  /** Creates the directory if needed and removes temp files that crashed writes left over an hour ago. */
  static async open(dataDir: string): Promise<FsObjects> {
    const store = new FsObjects(resolve(dataDir));
    try {
      await mkdir(store.#tempDir, { recursive: true });
      await store.#sweepTemp();
    } catch (error) {
      throw store.#unavailable('open', error);
    }
    return store;
  }

  get root(): string {
    return this.#root;
  }

  async put(
    tenant: string,
    key: string,
    body: BodyChunks,
    contentType: string,
    expectedSha256: string | undefined,
  ): Promise<{ sha256: string; size: number }> {
    const target = this.#path(tenant, key);
    const temp = await this.#writeTemp(body, contentType);
    try {
      if (expectedSha256 !== undefined && temp.sha256 !== expectedSha256) {
        throw new StoreError(
          'checksum_mismatch',
          `object body has SHA-256 ${temp.sha256}, expected ${expectedSha256}: nothing was stored`,
        );
      }
      await this.#publish(temp.path, target);
    } catch (error) {
      await rm(temp.path, { force: true });
      throw error instanceof StoreError ? error : this.#unavailable('put', error);
    }
    return { sha256: temp.sha256, size: temp.size };
  }

  async putContent(
    tenant: string,
    body: BodyChunks,
    contentType: string,
  ): Promise<{ sha256: string; size: number }> {
    const temp = await this.#writeTemp(body, contentType);
    try {
      const target = this.#path(tenant, contentKey(temp.sha256));
      if (await this.#exists(target)) await rm(temp.path, { force: true });
      else await this.#publish(temp.path, target);
    } catch (error) {
      await rm(temp.path, { force: true });
      throw error instanceof StoreError ? error : this.#unavailable('put', error);
    }
    return { sha256: temp.sha256, size: temp.size };
  }

  async get(tenant: string, key: string): Promise<(ObjectInfo & { body: Readable }) | undefined> {
    const handle = await this.#openObject(tenant, key);
    if (handle === undefined) return undefined;
    try {
      const { info, headerLength } = await this.#readInfo(handle, key);
      return { ...info, body: handle.createReadStream({ start: headerLength }) };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async head(tenant: string, key: string): Promise<ObjectInfo | undefined> {
    const handle = await this.#openObject(tenant, key);
    if (handle === undefined) return undefined;
    try {
      return (await this.#readInfo(handle, key)).info;
    } finally {
      await handle.close();
    }
  }

  async delete(tenant: string, key: string): Promise<boolean> {
    const target = this.#path(tenant, key);
    try {
      await unlink(target);
    } catch (error) {
      if (isMissing(error)) return false;
      throw this.#unavailable('delete', error);
    }
    // Remove directories the delete left empty (not the tenant's own); a concurrent put into one of
    // them either finds it gone and creates it again, or keeps it from being removed.
    const tenantDir = join(this.#root, tenant);
    for (let dir = dirname(target); dir.startsWith(tenantDir + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
    return true;
  }

  async list(
    tenant: string,
    prefix: string,
    limit: number,
    after: string | undefined,
  ): Promise<ObjectListPage> {
    const keys: string[] = [];
    // Walks directories depth first with children in key order (a directory sorts as its name + "/"),
    // which yields keys in the same byte order S3 uses, skipping subtrees outside the prefix or before
    // the cursor, and stops one key past the page.
    const visit = async (dir: string, base: string): Promise<boolean> => {
      for (const child of await this.#children(dir, base)) {
        if (child.directory) {
          if (!prefix.startsWith(child.key) && !child.key.startsWith(prefix)) continue;
          if (after !== undefined && compareKeys(child.key, after) < 0 && !after.startsWith(child.key))
            continue;
          if (await visit(join(dir, child.name), child.key)) return true;
        } else {
          if (!child.key.startsWith(prefix)) continue;
          if (after !== undefined && compareKeys(child.key, after) <= 0) continue;
          keys.push(child.key);
          if (keys.length > limit) return true;
        }
      }
      return false;
    };
    try {
      await visit(join(this.#root, tenant), '');
    } catch (error) {
      throw this.#unavailable('list', error);
    }
    if (keys.length <= limit) return { keys };
    const page = keys.slice(0, limit);
    return { keys: page, next: page[page.length - 1] ?? '' };
  }

  async ping(): Promise<void> {
    try {
      await access(this.#tempDir, constants.W_OK);
    } catch (error) {
      throw this.#unavailable('ping', error);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #path(tenant: string, key: string): string {
    const segments = objectKeySegments(key).map(encodeSegment);
    const last = segments.pop() ?? '';
    const tenantDir = join(this.#root, tenant);
    const path = join(tenantDir, ...segments, `${last}${OBJECT_SUFFIX}`);
    // The key rules already make this impossible; a second lock on the same door.
    if (!path.startsWith(tenantDir + sep))
      throw new StoreError('key_invalid', 'object key escapes its tenant');
    return path;
  }

  async #writeTemp(body: BodyChunks, contentType: string): Promise<WrittenTemp> {
    const path = join(this.#tempDir, randomUUID());
    let handle: FileHandle;
    try {
      handle = await open(path, 'wx', 0o600);
    } catch (error) {
      throw this.#unavailable('put', error);
    }
    const hash = createHash('sha256');
    let size = 0;
    try {
      await writeFully(handle, header(PLACEHOLDER_SHA256, contentType));
      for await (const chunk of body.chunks()) {
        hash.update(chunk);
        size += chunk.length;
        await writeFully(handle, chunk);
      }
      const sha256 = hash.digest('hex');
      const line = header(sha256, contentType);
      await handle.write(line, 0, line.length, 0);
      await handle.sync();
      await handle.close();
      return { path, sha256, size };
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(path, { force: true });
      throw error instanceof StoreError ? error : this.#unavailable('put', error);
    }
  }

  async #publish(tempPath: string, target: string): Promise<void> {
    const dir = dirname(target);
    // A concurrent delete may remove the (empty) target directory between mkdir and rename.
    for (let attempt = 1; ; attempt += 1) {
      await mkdir(dir, { recursive: true });
      try {
        await rename(tempPath, target);
        break;
      } catch (error) {
        if (errorCode(error) !== 'ENOENT' || attempt >= 3) throw error;
      }
    }
    await syncDirectory(dir);
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async #openObject(tenant: string, key: string): Promise<FileHandle | undefined> {
    try {
      return await open(this.#path(tenant, key), 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error instanceof StoreError ? error : this.#unavailable('get', error);
    }
  }

  async #readInfo(handle: FileHandle, key: string): Promise<{ info: ObjectInfo; headerLength: number }> {
    let parsed: unknown;
    let headerLength = 0;
    let fileSize = 0;
    try {
      const start = Buffer.alloc(HEADER_READ_BYTES);
      const { bytesRead } = await handle.read(start, 0, HEADER_READ_BYTES, 0);
      const newline = start.subarray(0, bytesRead).indexOf(0x0a);
      fileSize = (await handle.stat()).size;
      if (newline >= 0) {
        headerLength = newline + 1;
        parsed = JSON.parse(start.subarray(0, newline).toString('utf8'));
      }
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw this.#unavailable('get', error);
    }
    const fields = parsed as { v?: unknown; sha256?: unknown; contentType?: unknown } | undefined;
    if (fields?.v !== 1 || !isSha256Hex(fields.sha256) || typeof fields.contentType !== 'string') {
      throw new StoreError('object_corrupt', `object "${key}" has no valid header in the object store`);
    }
    return {
      info: { sha256: fields.sha256, size: fileSize - headerLength, contentType: fields.contentType },
      headerLength,
    };
  }

  async #children(dir: string, base: string): Promise<Child[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const children: Child[] = [];
    for (const entry of entries) {
      if (entry.isFile() && entry.name.endsWith(OBJECT_SUFFIX)) {
        const segment = decodeSegment(entry.name.slice(0, -OBJECT_SUFFIX.length));
        if (segment !== undefined) children.push({ key: base + segment, name: entry.name, directory: false });
      } else if (entry.isDirectory()) {
        const segment = decodeSegment(entry.name);
        if (segment !== undefined)
          children.push({ key: `${base}${segment}/`, name: entry.name, directory: true });
      }
    }
    return children.sort((left, right) => compareKeys(left.key, right.key));
  }

  async #sweepTemp(): Promise<void> {
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of await readdir(this.#tempDir)) {
      const path = join(this.#tempDir, name);
      try {
        if ((await stat(path)).mtimeMs < cutoff) await rm(path, { force: true });
      } catch {
        // gone already, or not ours to remove: either way not worth failing the open
      }
    }
  }

  #unavailable(operation: string, error: unknown): StoreError {
    return new StoreError(
      'objects_unavailable',
      `object store at ${this.#root} failed ${operation}: ${describeError(error)}`,
      { cause: error },
    );
  }
}
