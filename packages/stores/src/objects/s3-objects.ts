import { createHash, randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import http, { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

import { Client, CopyDestinationOptions, CopySourceOptions, S3Error } from 'minio';
import type { ClientOptions } from 'minio';

import { StoreError } from '../store.js';
import { describeError } from '../cache/namespace.js';
import type { ObjectBackend, ObjectInfo, ObjectListPage } from './object-backend.js';
import type { BodyChunks } from './object-body.js';
import { assertObjectKey, contentKey, isSha256Hex } from './object-names.js';

export interface S3Settings {
  /** `S3_ENDPOINT`, e.g. `http://127.0.0.1:9000` (MinIO) or `https://s3.eu-west-1.amazonaws.com`. */
  readonly endpoint: string;
  readonly accessKey: string;
  /** Never logged or put into an error message. */
  readonly secretKey: string;
  readonly bucket: string;
  /** Default `us-east-1`. */
  readonly region?: string;
}

/** Bodies up to one part go up in one PUT; longer ones in parts of this size (one part in memory). */
export const S3_PART_BYTES = 8 * 1024 * 1024;
/** S3's CopyObject limit, which the temp → final copy of a multipart upload is bound by. */
export const S3_OBJECT_MAX_BYTES = 5 * 1024 * 1024 * 1024;
const SHA256_METADATA = 'sha256';
// Multipart uploads land here first; encoded tenant segments never start with `.`.
const TEMP_PREFIX = '.aibox-tmp/';
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function notFound(error: unknown): boolean {
  return error instanceof S3Error && (error.code === 'NoSuchKey' || error.code === 'NotFound');
}

function headerValue(message: IncomingMessage, name: string): string | undefined {
  const value = message.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * minio-js has no request timeout: this transport fails a request whose response has not started within
 * `timeoutMs` of socket inactivity, so a dead endpoint cannot hang a caller. Bodies, once flowing, are not
 * cut (a slow reader is not a dead server).
 */
function boundedTransport(
  base: typeof http | typeof https,
  timeoutMs: number,
): NonNullable<ClientOptions['transport']> {
  const request = (options: http.RequestOptions, callback?: (response: IncomingMessage) => void) => {
    const outgoing = base.request(options, (response) => {
      outgoing.setTimeout(0);
      callback?.(response);
    });
    outgoing.setTimeout(timeoutMs, () => {
      outgoing.destroy(new Error(`no response within ${timeoutMs} ms`));
    });
    return outgoing;
  };
  return { request: request as typeof http.request };
}

function parseEndpoint(endpoint: string): { host: string; port: number; useSSL: boolean } {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StoreError('store_config_invalid', 'S3_ENDPOINT is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StoreError('store_config_invalid', 'S3_ENDPOINT must start with http:// or https://');
  }
  if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') {
    throw new StoreError(
      'store_config_invalid',
      'S3_ENDPOINT must be a bare origin such as http://host:9000',
    );
  }
  const useSSL = url.protocol === 'https:';
  const port = url.port === '' ? (useSSL ? 443 : 80) : Number(url.port);
  // URL keeps IPv6 hosts in brackets; minio wants them bare.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, useSSL };
}

interface Uploaded {
  /** Where the body belongs. */
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
  /** Where a multipart upload put the body for now; undefined when it went straight to `name`. */
  readonly tempName: string | undefined;
}

/**
 * The S3 adapter (minio-js): object `<tenant>/<key>` in one bucket, its SHA-256 in the `x-amz-meta-sha256`
 * metadata. A body that fits one part is hashed first and stored with one PUT. A longer one is streamed
 * part by part to a temp object under `.aibox-tmp/`, then copied to its name with the hash as metadata and
 * the temp object removed; a failed or rejected upload is aborted, so the key never shows a partial or
 * unverified body.
 */
export class S3Objects implements ObjectBackend {
  readonly adapter = 's3';
  readonly #client: Client;
  readonly #agent: http.Agent;
  readonly #bucket: string;
  readonly #where: string;

  private constructor(client: Client, agent: http.Agent, bucket: string, where: string) {
    this.#client = client;
    this.#agent = agent;
    this.#bucket = bucket;
    this.#where = where;
  }

  /** Connects and creates the bucket if it is missing, or throws `objects_unavailable`. */
  static async connect(settings: S3Settings, timeoutMs: number): Promise<S3Objects> {
    const { host, port, useSSL } = parseEndpoint(settings.endpoint);
    if (!BUCKET_NAME.test(settings.bucket)) {
      throw new StoreError('store_config_invalid', 'S3_BUCKET is not a valid bucket name');
    }
    if (settings.accessKey === '' || settings.secretKey === '') {
      throw new StoreError('store_config_invalid', 'S3_ACCESS_KEY and S3_SECRET_KEY must be set');
    }
    const region = settings.region ?? 'us-east-1';
    const agent = useSSL ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    let client: Client;
    try {
      client = new Client({
        endPoint: host,
        port,
        useSSL,
        accessKey: settings.accessKey,
        secretKey: settings.secretKey,
        region,
        pathStyle: true,
        transport: boundedTransport(useSSL ? https : http, timeoutMs),
        transportAgent: agent,
        // minio retries by printing to the console; callers decide about retries instead.
        retryOptions: { disableRetry: true },
      });
    } catch (error) {
      agent.destroy();
      throw new StoreError('store_config_invalid', `S3 settings rejected: ${describeError(error)}`, {
        cause: error,
      });
    }
    const store = new S3Objects(client, agent, settings.bucket, `${host}:${port}/${settings.bucket}`);
    try {
      if (!(await client.bucketExists(settings.bucket))) {
        await client.makeBucket(settings.bucket, region).catch((error: unknown) => {
          // another replica created it first
          if (!(error instanceof S3Error && error.code === 'BucketAlreadyOwnedByYou')) throw error;
        });
      }
    } catch (error) {
      agent.destroy();
      throw store.#unavailable('open', error);
    }
    return store;
  }

  async put(
    tenant: string,
    key: string,
    body: BodyChunks,
    contentType: string,
    expectedSha256: string | undefined,
  ): Promise<{ sha256: string; size: number }> {
    const uploaded = await this.#upload(() => `${tenant}/${key}`, body, contentType, expectedSha256, false);
    if (uploaded.tempName !== undefined) await this.#moveIntoPlace(uploaded, uploaded.tempName, contentType);
    return { sha256: uploaded.sha256, size: uploaded.size };
  }

  async putContent(
    tenant: string,
    body: BodyChunks,
    contentType: string,
  ): Promise<{ sha256: string; size: number }> {
    const uploaded = await this.#upload(
      (sha256) => `${tenant}/${contentKey(sha256)}`,
      body,
      contentType,
      undefined,
      true,
    );
    if (uploaded.tempName !== undefined) {
      if ((await this.#stat(uploaded.name)) === undefined) {
        await this.#moveIntoPlace(uploaded, uploaded.tempName, contentType);
      } else {
        await this.#removeQuietly(uploaded.tempName);
      }
    }
    return { sha256: uploaded.sha256, size: uploaded.size };
  }

  async get(tenant: string, key: string): Promise<(ObjectInfo & { body: Readable }) | undefined> {
    let response: Readable;
    try {
      response = await this.#client.getObject(this.#bucket, `${tenant}/${key}`);
    } catch (error) {
      if (notFound(error)) return undefined;
      throw this.#unavailable('get', error);
    }
    // minio answers with the HTTP response itself: reading size and metadata from its headers keeps them
    // consistent with the body even when the object is replaced meanwhile.
    if (!(response instanceof IncomingMessage)) {
      response.destroy();
      throw new StoreError('objects_unavailable', 'the S3 client returned no HTTP response headers');
    }
    const sha256 = headerValue(response, `x-amz-meta-${SHA256_METADATA}`);
    const size = Number(headerValue(response, 'content-length'));
    if (!isSha256Hex(sha256) || !Number.isSafeInteger(size)) {
      response.destroy();
      throw new StoreError('object_corrupt', `object "${key}" has no SHA-256 metadata in the object store`);
    }
    const contentType = headerValue(response, 'content-type') ?? 'application/octet-stream';
    return { sha256, size, contentType, body: response };
  }

  async head(tenant: string, key: string): Promise<ObjectInfo | undefined> {
    return this.#stat(`${tenant}/${key}`);
  }

  async delete(tenant: string, key: string): Promise<boolean> {
    const name = `${tenant}/${key}`;
    if ((await this.#stat(name)) === undefined) return false;
    try {
      await this.#client.removeObject(this.#bucket, name);
    } catch (error) {
      throw this.#unavailable('delete', error);
    }
    return true;
  }

  async list(
    tenant: string,
    prefix: string,
    limit: number,
    after: string | undefined,
  ): Promise<ObjectListPage> {
    const base = `${tenant}/`;
    const keys: string[] = [];
    let token = '';
    const startAfter = after === undefined ? '' : base + after;
    try {
      for (;;) {
        const page = await this.#client.listObjectsV2Query(
          this.#bucket,
          base + prefix,
          token,
          '',
          Math.min(1000, limit + 1 - keys.length),
          startAfter,
        );
        for (const item of page.objects) {
          if (item.name === undefined) continue;
          const key = item.name.slice(base.length);
          // Names this store cannot have written (another tool's) are not keys of ours.
          if (isValidKey(key)) keys.push(key);
        }
        if (!page.isTruncated || keys.length > limit || page.nextContinuationToken === '') break;
        token = page.nextContinuationToken;
      }
    } catch (error) {
      throw this.#unavailable('list', error);
    }
    if (keys.length <= limit) return { keys };
    const pageKeys = keys.slice(0, limit);
    return { keys: pageKeys, next: pageKeys[pageKeys.length - 1] ?? '' };
  }

  async ping(): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.#client.bucketExists(this.#bucket);
    } catch (error) {
      throw this.#unavailable('ping', error);
    }
    if (!exists) throw new StoreError('objects_unavailable', `object store bucket ${this.#where} is missing`);
  }

  close(): Promise<void> {
    this.#agent.destroy();
    return Promise.resolve();
  }

  async #stat(name: string): Promise<ObjectInfo | undefined> {
    try {
      const stat = await this.#client.statObject(this.#bucket, name);
      const sha256: unknown = stat.metaData[SHA256_METADATA];
      const contentType: unknown = stat.metaData['content-type'];
      if (!isSha256Hex(sha256)) {
        throw new StoreError(
          'object_corrupt',
          `object "${name}" has no SHA-256 metadata in the object store`,
        );
      }
      return {
        sha256,
        size: stat.size,
        contentType: typeof contentType === 'string' ? contentType : 'application/octet-stream',
      };
    } catch (error) {
      if (notFound(error)) return undefined;
      if (error instanceof StoreError) throw error;
      throw this.#unavailable('head', error);
    }
  }

  /**
   * Stores a body that fits one part (or was handed over whole) at its final name with one PUT, and a
   * longer stream as a temp object through a multipart upload. `nameFor` may depend on the hash (content
   * addressing); with `skipExisting`, a one-PUT body whose name already exists is not sent again.
   */
  async #upload(
    nameFor: (sha256: string) => string,
    body: BodyChunks,
    contentType: string,
    expectedSha256: string | undefined,
    skipExisting: boolean,
  ): Promise<Uploaded> {
    const check = (sha256: string): void => {
      if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
        throw new StoreError(
          'checksum_mismatch',
          `object body has SHA-256 ${sha256}, expected ${expectedSha256}: nothing was stored`,
        );
      }
    };
    const hash = createHash('sha256');
    let first: { part: Buffer; done: boolean };
    let chunks: AsyncIterator<Buffer> | undefined;
    if (body.whole === undefined) {
      chunks = body.chunks()[Symbol.asyncIterator]();
      first = await readPart(chunks, hash);
    } else {
      first = { part: body.whole, done: true };
      hash.update(body.whole);
    }

    if (first.done) {
      const { part } = first;
      if (part.length > S3_OBJECT_MAX_BYTES) {
        throw new StoreError('object_too_large', `object body is larger than ${S3_OBJECT_MAX_BYTES} bytes`);
      }
      const sha256 = hash.digest('hex');
      check(sha256);
      const name = nameFor(sha256);
      const uploaded = { name, sha256, size: part.length, tempName: undefined };
      if (skipExisting && (await this.#stat(name)) !== undefined) return uploaded;
      try {
        await this.#client.putObject(this.#bucket, name, part, part.length, {
          'Content-Type': contentType,
          [`X-Amz-Meta-${SHA256_METADATA}`]: sha256,
        });
      } catch (error) {
        throw this.#unavailable('put', error);
      }
      return uploaded;
    }

    const source = chunks;
    if (source === undefined) throw new StoreError('body_invalid', 'object body ended unexpectedly');
    const tempName = `${TEMP_PREFIX}${randomUUID()}`;
    let uploadId: string;
    try {
      uploadId = await this.#client.initiateNewMultipartUpload(this.#bucket, tempName, {
        'Content-Type': contentType,
      });
    } catch (error) {
      await source.return?.();
      throw this.#unavailable('put', error);
    }
    try {
      const etags: { part: number; etag: string }[] = [];
      let size = 0;
      let next = first;
      for (let partNumber = 1; next.part.length > 0; partNumber += 1) {
        size += next.part.length;
        if (size > S3_OBJECT_MAX_BYTES) {
          throw new StoreError('object_too_large', `object body is larger than ${S3_OBJECT_MAX_BYTES} bytes`);
        }
        const uploadedPart = await this.#client.uploadPart(
          { bucketName: this.#bucket, objectName: tempName, uploadID: uploadId, partNumber, headers: {} },
          next.part,
        );
        etags.push({ part: partNumber, etag: uploadedPart.etag });
        if (next.done) break;
        next = await readPart(source, hash);
      }
      const sha256 = hash.digest('hex');
      check(sha256);
      await this.#client.completeMultipartUpload(this.#bucket, tempName, uploadId, etags);
      return { name: nameFor(sha256), sha256, size, tempName };
    } catch (error) {
      await source.return?.();
      await this.#client.abortMultipartUpload(this.#bucket, tempName, uploadId).catch(() => undefined);
      throw error instanceof StoreError ? error : this.#unavailable('put', error);
    }
  }

  /** Copies a multipart upload's temp object to its name, with the hash as metadata, and removes it. */
  async #moveIntoPlace(uploaded: Uploaded, tempName: string, contentType: string): Promise<void> {
    try {
      await this.#client.copyObject(
        new CopySourceOptions({ Bucket: this.#bucket, Object: tempName }),
        new CopyDestinationOptions({
          Bucket: this.#bucket,
          Object: uploaded.name,
          MetadataDirective: 'REPLACE',
          UserMetadata: { [SHA256_METADATA]: uploaded.sha256 },
          Headers: { 'Content-Type': contentType },
        }),
      );
    } catch (error) {
      throw this.#unavailable('put', error);
    } finally {
      await this.#removeQuietly(tempName);
    }
  }

  async #removeQuietly(name: string): Promise<void> {
    // A temp object left behind is invisible to tenants; a bucket lifecycle rule on `.aibox-tmp/`
    // collects it.
    await this.#client.removeObject(this.#bucket, name).catch(() => undefined);
  }

  #unavailable(operation: string, error: unknown): StoreError {
    return new StoreError(
      'objects_unavailable',
      `object store at ${this.#where} failed ${operation}: ${describeError(error)}`,
      { cause: error },
    );
  }
}

function isValidKey(key: string): boolean {
  try {
    assertObjectKey(key);
    return true;
  } catch {
    return false;
  }
}

/** Reads up to one part from `chunks` into memory, hashing as it goes. */
async function readPart(chunks: AsyncIterator<Buffer>, hash: Hash): Promise<{ part: Buffer; done: boolean }> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < S3_PART_BYTES) {
    const next = await chunks.next();
    if (next.done === true) return { part: Buffer.concat(parts, length), done: true };
    hash.update(next.value);
    parts.push(next.value);
    length += next.value.length;
  }
  return { part: Buffer.concat(parts, length), done: false };
}
