import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { Client } from 'minio';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { StoreError, openObjectStore } from '@aibox/stores';
import type { ObjectStore, StoreErrorCode } from '@aibox/stores';

import { startSilentServer } from './cache/tcp-proxy.js';
import { digestOf, failingBody, generatedBody, sha256, textOf } from './objects/bodies.js';
import { S3RVER_ACCESS_KEY, S3RVER_SECRET_KEY, startS3rver } from './objects/s3rver.js';
import type { S3rverInstance } from './objects/s3rver.js';

const MiB = 1024 * 1024;

async function rejectsWith(work: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  const error: unknown = await work.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe(code);
  return error as StoreError;
}

async function allKeys(store: ObjectStore, tenant: string, prefix = ''): Promise<string[]> {
  return (await store.list(tenant, prefix)).keys;
}

/** Every object name under `prefix`, straight from the bucket. */
function listed(client: Client, bucket: string, prefix: string): AsyncIterable<{ name?: string }> {
  return client.listObjectsV2(bucket, prefix, true) as AsyncIterable<{ name?: string }>;
}

interface Adapter {
  readonly name: 'fs' | 's3';
  open(): Promise<ObjectStore>;
  /** Temp files or objects that unfinished writes left behind. */
  leftovers(): Promise<string[]>;
}

// Keys that must never be accepted: traversal, absolute paths, separators and characters that mean
// something else on some filesystem, and lengths past the bounds.
const BAD_KEYS = [
  '',
  '/etc/passwd',
  '../A/x',
  '..',
  '.',
  'a/../../b',
  'a/./b',
  'a//b',
  'a/',
  'a\\b',
  '..\\..\\x',
  'a\u0000b',
  'a\nb',
  'tab\there',
  'lone \ud800',
  'x'.repeat(769),
  `${'s'.repeat(201)}/x`,
  '%'.repeat(67),
];

function objectContract(adapter: Adapter): void {
  describe(`object store contract on ${adapter.name}`, () => {
    let store: ObjectStore;
    // A fresh tenant per test keeps the tests independent on the shared store.
    const tenant = (): string => `tenant-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      store = await adapter.open();
    });
    afterAll(async () => {
      await store.close();
    });

    it('reports its kind and adapter and answers ping', async () => {
      expect(store.kind).toBe('objects');
      expect(store.adapter).toBe(adapter.name);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('round-trips bodies given as Buffer, Uint8Array and stream, with their SHA-256', async () => {
      const t = tenant();
      const stored = await store.put(t, 'notes/hello.txt', Buffer.from('hello'), {
        contentType: 'text/plain',
      });
      expect(stored).toEqual({ sha256: sha256('hello'), size: 5 });
      const got = await store.get(t, 'notes/hello.txt');
      expect(got).toMatchObject({ sha256: sha256('hello'), size: 5, contentType: 'text/plain' });
      expect(await textOf(got?.body ?? Readable.from([]))).toBe('hello');
      expect(await store.head(t, 'notes/hello.txt')).toEqual({
        sha256: sha256('hello'),
        size: 5,
        contentType: 'text/plain',
      });

      await store.put(t, 'bytes', new Uint8Array([104, 105]));
      const bytes = await store.get(t, 'bytes');
      expect(bytes?.contentType).toBe('application/octet-stream');
      expect(await textOf(bytes?.body ?? Readable.from([]))).toBe('hi');

      await store.put(t, 'stream', Readable.from([Buffer.from('str'), Buffer.from('eam')]), {
        contentType: 'application/json; charset=utf-8',
      });
      expect(await store.head(t, 'stream')).toEqual({
        sha256: sha256('stream'),
        size: 6,
        contentType: 'application/json; charset=utf-8',
      });

      await store.put(t, 'empty', Buffer.alloc(0));
      const empty = await store.get(t, 'empty');
      expect(empty).toMatchObject({ size: 0, sha256: sha256('') });
      expect(await textOf(empty?.body ?? Readable.from([]))).toBe('');
    });

    it('replaces an object on a second put', async () => {
      const t = tenant();
      await store.put(t, 'doc', Buffer.from('first version'));
      await store.put(t, 'doc', Buffer.from('second'), { contentType: 'text/plain' });
      const got = await store.get(t, 'doc');
      expect(got).toMatchObject({ size: 6, sha256: sha256('second'), contentType: 'text/plain' });
      expect(await textOf(got?.body ?? Readable.from([]))).toBe('second');
    });

    it('streams a 40 MiB body in and out without changing a byte', async () => {
      const t = tenant();
      const source = generatedBody(40 * MiB);
      const stored = await store.put(t, 'big/blob.bin', source.body);
      expect(stored).toEqual({ sha256: source.digest(), size: 40 * MiB });
      const got = await store.get(t, 'big/blob.bin');
      expect(got).toMatchObject({ sha256: source.digest(), size: 40 * MiB });
      expect(await digestOf(got?.body ?? Readable.from([]))).toEqual({
        sha256: source.digest(),
        size: 40 * MiB,
      });
    });

    it('stores content by its hash once, however often it is put', async () => {
      const t = tenant();
      const first = await store.putContent(t, Buffer.from('same bytes'), { contentType: 'text/plain' });
      expect(first).toEqual({
        sha256: sha256('same bytes'),
        size: 10,
        key: `sha256/${sha256('same bytes')}`,
      });
      const again = await store.putContent(t, Readable.from([Buffer.from('same '), Buffer.from('bytes')]), {
        contentType: 'application/x-other',
      });
      expect(again).toEqual(first);
      expect(await allKeys(store, t)).toEqual([first.key]);
      const got = await store.get(t, first.key);
      expect(got).toMatchObject({ sha256: first.sha256, size: 10, contentType: 'text/plain' });
      expect(await textOf(got?.body ?? Readable.from([]))).toBe('same bytes');

      // A body longer than one upload part takes the streaming path.
      const large = generatedBody(12 * MiB);
      const stored = await store.putContent(t, large.body);
      expect(stored.key).toBe(`sha256/${large.digest()}`);
      const copy = await store.get(t, stored.key);
      expect(await digestOf(copy?.body ?? Readable.from([]))).toEqual({
        sha256: large.digest(),
        size: 12 * MiB,
      });
      const repeated = await store.putContent(t, (await store.get(t, stored.key))?.body ?? Readable.from([]));
      expect(repeated).toEqual(stored);
      expect(await allKeys(store, t)).toEqual([first.key, stored.key].sort());
    });

    it('answers undefined for absent objects and deletes exactly once', async () => {
      const t = tenant();
      expect(await store.get(t, 'missing')).toBeUndefined();
      expect(await store.head(t, 'missing/deeper')).toBeUndefined();
      expect(await store.delete(t, 'missing')).toBe(false);
      await store.put(t, 'a/b/c', Buffer.from('x'));
      expect(await store.delete(t, 'a/b/c')).toBe(true);
      expect(await store.delete(t, 'a/b/c')).toBe(false);
      expect(await store.get(t, 'a/b/c')).toBeUndefined();
      expect(await allKeys(store, t)).toEqual([]);
      await store.put(t, 'a/b/c', Buffer.from('again'));
      expect(await allKeys(store, t)).toEqual(['a/b/c']);
    });

    it('lists by prefix in byte order, a page at a time', async () => {
      const t = tenant();
      const keys = ['docs/a', 'docs/b', 'docs/c', 'docs/c/d', 'docs-old', 'img/x', 'z', 'a%b', 'docs/ü'];
      for (const key of keys) await store.put(t, key, Buffer.from(key));
      expect(await allKeys(store, t)).toEqual([
        'a%b',
        'docs-old',
        'docs/a',
        'docs/b',
        'docs/c',
        'docs/c/d',
        'docs/ü',
        'img/x',
        'z',
      ]);
      expect(await allKeys(store, t, 'docs/')).toEqual(['docs/a', 'docs/b', 'docs/c', 'docs/c/d', 'docs/ü']);
      expect(await allKeys(store, t, 'docs/c')).toEqual(['docs/c', 'docs/c/d']);
      expect(await allKeys(store, t, 'nothing')).toEqual([]);

      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.list(t, 'docs', after === undefined ? { limit: 2 } : { limit: 2, after });
        pages.push(page.keys);
        if (page.next === undefined) break;
        expect(page.next).toBe(page.keys[page.keys.length - 1]);
        after = page.next;
      }
      expect(pages).toEqual([
        ['docs-old', 'docs/a'],
        ['docs/b', 'docs/c'],
        ['docs/c/d', 'docs/ü'],
      ]);
      expect(await store.list(t, '', { limit: 3, after: 'docs/c' })).toEqual({
        keys: ['docs/c/d', 'docs/ü', 'img/x'],
        next: 'img/x',
      });
    });

    it('keeps an object and its key-prefix "directory" apart', async () => {
      const t = tenant();
      await store.put(t, 'report', Buffer.from('file'));
      await store.put(t, 'report/2024', Buffer.from('nested'));
      await store.put(t, 'x%obj', Buffer.from('suffix-like'));
      expect(await allKeys(store, t)).toEqual(['report', 'report/2024', 'x%obj']);
      expect(await textOf((await store.get(t, 'report'))?.body ?? Readable.from([]))).toBe('file');
      expect(await store.delete(t, 'report')).toBe(true);
      expect(await textOf((await store.get(t, 'report/2024'))?.body ?? Readable.from([]))).toBe('nested');
      expect(await textOf((await store.get(t, 'x%obj'))?.body ?? Readable.from([]))).toBe('suffix-like');
    });

    it('stores nothing when the checksum does not match, and keeps the previous object', async () => {
      const t = tenant();
      const wrong = sha256('something else');
      const error = await rejectsWith(
        store.put(t, 'checked', Buffer.from('payload'), { expectedSha256: wrong }),
        'checksum_mismatch',
      );
      expect(error.message).toContain(sha256('payload'));
      expect(await store.head(t, 'checked')).toBeUndefined();
      expect(await allKeys(store, t)).toEqual([]);

      await store.put(t, 'checked', Buffer.from('v1'), { expectedSha256: sha256('v1').toUpperCase() });
      const streamed = generatedBody(10 * MiB);
      await rejectsWith(
        store.put(t, 'checked', streamed.body, { expectedSha256: wrong }),
        'checksum_mismatch',
      );
      expect(await textOf((await store.get(t, 'checked'))?.body ?? Readable.from([]))).toBe('v1');
      expect(await allKeys(store, t)).toEqual(['checked']);
      expect(await adapter.leftovers()).toEqual([]);
    });

    it('stores nothing when the body stream fails midway', async () => {
      const t = tenant();
      await rejectsWith(store.put(t, 'partial', failingBody(64 * 1024)), 'body_unreadable');
      await rejectsWith(store.put(t, 'partial-large', failingBody(9 * MiB)), 'body_unreadable');
      await rejectsWith(store.putContent(t, failingBody(1024)), 'body_unreadable');
      expect(await allKeys(store, t)).toEqual([]);
      expect(await adapter.leftovers()).toEqual([]);
    });

    it('rejects traversal and malformed keys on every operation', async () => {
      const t = tenant();
      for (const key of BAD_KEYS) {
        await rejectsWith(store.put(t, key, Buffer.from('evil')), 'key_invalid');
        await rejectsWith(store.get(t, key), 'key_invalid');
        await rejectsWith(store.head(t, key), 'key_invalid');
        await rejectsWith(store.delete(t, key), 'key_invalid');
      }
      await rejectsWith(store.list(t, '/abs'), 'key_invalid');
      await rejectsWith(store.list(t, 'a\u0000'), 'key_invalid');
      await rejectsWith(store.list(t, '', { after: 'a\nb' }), 'key_invalid');
      expect(await allKeys(store, t)).toEqual([]);
    });

    it('accepts unusual but safe keys verbatim', async () => {
      const t = tenant();
      const keys = ['...', '.hidden/file', 'a b/ü/100%', 'x%25', "quote's (1)", `${'s'.repeat(200)}/x`];
      for (const key of keys) await store.put(t, key, Buffer.from(key));
      for (const key of keys)
        expect(await textOf((await store.get(t, key))?.body ?? Readable.from([]))).toBe(key);
      expect(await allKeys(store, t)).toEqual(
        [...keys].sort((l, r) => Buffer.compare(Buffer.from(l), Buffer.from(r))),
      );
    });

    it('keeps tenants apart: B cannot read, list, overwrite or delete A’s object of the same key', async () => {
      const a = tenant();
      const b = tenant();
      await store.put(a, 'shared/key', Buffer.from('A data'));
      expect(await store.get(b, 'shared/key')).toBeUndefined();
      expect(await store.head(b, 'shared/key')).toBeUndefined();
      expect(await allKeys(store, b)).toEqual([]);
      expect(await store.delete(b, 'shared/key')).toBe(false);
      await store.put(b, 'shared/key', Buffer.from('B data'));
      expect(await textOf((await store.get(a, 'shared/key'))?.body ?? Readable.from([]))).toBe('A data');
      expect(await textOf((await store.get(b, 'shared/key'))?.body ?? Readable.from([]))).toBe('B data');
      await rejectsWith(store.get(b, `../${a}/shared/key`), 'key_invalid');
      await rejectsWith(store.put(b, `../${a}/shared/key`, Buffer.from('overwrite')), 'key_invalid');
      expect(await textOf((await store.get(a, 'shared/key'))?.body ?? Readable.from([]))).toBe('A data');
    });

    it('treats tenant ids that look like paths as ordinary, separate tenants', async () => {
      const a = tenant();
      await store.put(a, 'x', Buffer.from('A'));
      for (const sneaky of [
        '..',
        '.',
        `${a}/..`,
        `../${a}`,
        `${a}/x`,
        '.tmp',
        '.aibox-tmp',
        `${a}%2F`,
        'a\\b',
      ]) {
        expect(await store.get(sneaky, 'x')).toBeUndefined();
        expect(await allKeys(store, sneaky)).toEqual([]);
      }
      await store.put('..', 'x', Buffer.from('dots'));
      expect(await textOf((await store.get(a, 'x'))?.body ?? Readable.from([]))).toBe('A');
      expect(await textOf((await store.get('..', 'x'))?.body ?? Readable.from([]))).toBe('dots');
      await store.delete('..', 'x');
      await rejectsWith(store.get('', 'x'), 'tenant_invalid');
      await rejectsWith(store.get('t\u0000', 'x'), 'tenant_invalid');
      await rejectsWith(store.get('t'.repeat(129), 'x'), 'tenant_invalid');
    });

    it('rejects bad options and bodies with stable codes', async () => {
      const t = tenant();
      await rejectsWith(
        store.put(t, 'k', Buffer.from('x'), { contentType: 'not a type' }),
        'content_type_invalid',
      );
      await rejectsWith(
        store.put(t, 'k', Buffer.from('x'), { contentType: 'text/plain\r\nX-Evil: 1' }),
        'content_type_invalid',
      );
      await rejectsWith(store.put(t, 'k', Buffer.from('x'), { expectedSha256: 'abc' }), 'checksum_invalid');
      await rejectsWith(store.put(t, 'k', 'a string' as unknown as Buffer), 'body_invalid');
      await rejectsWith(store.put(t, 'k', Readable.from([{ not: 'bytes' }])), 'body_invalid');
      await rejectsWith(store.list(t, '', { limit: 0 }), 'limit_invalid');
      await rejectsWith(store.list(t, '', { limit: 1001 }), 'limit_invalid');
      expect(await allKeys(store, t)).toEqual([]);
      expect(await adapter.leftovers()).toEqual([]);
    });

    it('refuses work after close, and closing twice is fine', async () => {
      const other = await adapter.open();
      await other.close();
      await other.close();
      await rejectsWith(other.get('acme', 'k'), 'store_closed');
      await rejectsWith(other.ping(), 'store_closed');
    });
  });
}

describe('object store on the filesystem', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aibox-objects-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  objectContract({
    name: 'fs',
    open: () => openObjectStore({ service: 'objects-test', dataDir: join(dataDir, 'objects') }),
    leftovers: async () => readdir(join(dataDir, 'objects', '.tmp')),
  });

  it('keeps each tenant under its own directory and nothing escapes the data dir', async () => {
    const root = join(dataDir, 'layout');
    const store = await openObjectStore({ service: 'objects-test', dataDir: root });
    await store.put('acme', 'docs/report.pdf', Buffer.from('pdf'), { contentType: 'application/pdf' });
    await store.put('..', 'x', Buffer.from('dots'));
    for (const key of BAD_KEYS) await store.put('acme', key, Buffer.from('evil')).catch(() => undefined);
    expect((await readdir(root)).sort()).toEqual(['%2E.', '.tmp', 'acme']);
    expect(await readdir(join(root, 'acme', 'docs'))).toEqual(['report.pdf%obj']);
    expect((await readdir(dataDir)).sort()).toEqual(['layout', 'objects']);
    const file = await readFile(join(root, 'acme', 'docs', 'report.pdf%obj'), 'utf8');
    expect(file).toBe(`{"v":1,"sha256":"${sha256('pdf')}","contentType":"application/pdf"}\npdf`);
    await store.close();
  });

  it('never shows a crashed write, and sweeps its temp file after an hour', async () => {
    const root = join(dataDir, 'crash');
    const first = await openObjectStore({ service: 'objects-test', dataDir: root });
    await first.close();
    const stale = join(root, '.tmp', 'stale-write');
    const recent = join(root, '.tmp', 'recent-write');
    await writeFile(stale, 'half an object');
    await writeFile(recent, 'in flight');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    const store = await openObjectStore({ service: 'objects-test', dataDir: root });
    expect(await readdir(join(root, '.tmp'))).toEqual(['recent-write']);
    expect(await store.list('acme')).toEqual({ keys: [] });
    await store.close();
  });

  it('reports an object file without a valid header as object_corrupt', async () => {
    const root = join(dataDir, 'corrupt');
    const store = await openObjectStore({ service: 'objects-test', dataDir: root });
    await mkdir(join(root, 'acme'), { recursive: true });
    await writeFile(join(root, 'acme', 'broken%obj'), 'no header here');
    expect(await store.list('acme')).toEqual({ keys: ['broken'] });
    await rejectsWith(store.get('acme', 'broken'), 'object_corrupt');
    await rejectsWith(store.head('acme', 'broken'), 'object_corrupt');
    await store.close();
  });

  it('defaults to $AIBOX_DATA_DIR/<service>/objects', async () => {
    const base = join(dataDir, 'env');
    vi.stubEnv('AIBOX_DATA_DIR', base);
    try {
      const store = await openObjectStore({ service: 'audit' });
      await store.put('acme', 'k', Buffer.from('v'));
      expect(await readdir(join(base, 'audit', 'objects', 'acme'))).toEqual(['k%obj']);
      await store.close();
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('object store on S3 (s3rver)', () => {
  let s3rver: S3rverInstance;
  let raw: Client;
  const bucket = `aibox-test-${randomUUID().slice(0, 8)}`;
  const settings = (overrides: { bucket?: string; secretKey?: string; endpoint?: string } = {}) => ({
    endpoint: overrides.endpoint ?? s3rver.endpoint,
    accessKey: S3RVER_ACCESS_KEY,
    secretKey: overrides.secretKey ?? S3RVER_SECRET_KEY,
    bucket: overrides.bucket ?? bucket,
  });

  beforeAll(async () => {
    s3rver = await startS3rver();
    const port = Number(new URL(s3rver.endpoint).port);
    raw = new Client({
      endPoint: '127.0.0.1',
      port,
      useSSL: false,
      accessKey: S3RVER_ACCESS_KEY,
      secretKey: S3RVER_SECRET_KEY,
      region: 'us-east-1',
      pathStyle: true,
    });
  });
  afterAll(async () => {
    await s3rver.stop();
  });

  objectContract({
    name: 's3',
    open: () => openObjectStore({ service: 'objects-test', s3: settings() }),
    leftovers: async () => {
      const names: string[] = [];
      for await (const item of listed(raw, bucket, '.aibox-tmp/')) {
        if (typeof item.name === 'string') names.push(item.name);
      }
      return names;
    },
  });

  it('creates its bucket and stores <tenant>/<key> with the SHA-256 as metadata', async () => {
    const fresh = `aibox-new-${randomUUID().slice(0, 8)}`;
    expect(await raw.bucketExists(fresh)).toBe(false);
    const store = await openObjectStore({ service: 'objects-test', s3: settings({ bucket: fresh }) });
    expect(await raw.bucketExists(fresh)).toBe(true);
    await store.put('acme', 'docs/report.pdf', Buffer.from('pdf'), { contentType: 'application/pdf' });
    await store.put('a/b', 'x', Buffer.from('slash tenant'));
    const stat = await raw.statObject(fresh, 'acme/docs/report.pdf');
    expect(stat.metaData).toMatchObject({ sha256: sha256('pdf'), 'content-type': 'application/pdf' });
    const names: string[] = [];
    for await (const item of listed(raw, fresh, '')) {
      if (typeof item.name === 'string') names.push(item.name);
    }
    expect(names.sort()).toEqual(['a%2Fb/x', 'acme/docs/report.pdf']);
    await store.close();
  });

  it('fails to open within its timeout on a mute endpoint, without showing the secret key', async () => {
    const mute = await startSilentServer();
    try {
      const error = await rejectsWith(
        openObjectStore({
          service: 'objects-test',
          s3: settings({ endpoint: `http://127.0.0.1:${mute.port}`, secretKey: 'very-secret-key' }),
          timeoutMs: 300,
        }),
        'objects_unavailable',
      );
      expect(error.message).toContain(`127.0.0.1:${mute.port}`);
      expect(error.message).not.toContain('very-secret-key');
    } finally {
      await mute.stop();
    }
  });

  it('refuses bad S3 settings', async () => {
    await rejectsWith(
      openObjectStore({ service: 'objects-test', s3: settings({ endpoint: 'ftp://127.0.0.1' }) }),
      'store_config_invalid',
    );
    await rejectsWith(
      openObjectStore({ service: 'objects-test', s3: settings({ bucket: 'Bad_Bucket' }) }),
      'store_config_invalid',
    );
    await rejectsWith(openObjectStore({ service: 'Bad Service', s3: settings() }), 'store_config_invalid');
  });
});
