import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dropSchemas, needs, postgresUrl } from '@aibox/testing';

import { readSse, startSandboxService, type TestSandboxService, type Who } from './support/sandbox.js';

/**
 * Artifacts over HTTP with the `process` runtime: files a program wrote, copied into the object store with
 * their SHA-256 and served back byte for byte, kept when the workspace changes and when the sandbox goes,
 * refused for paths the files API refuses, and someone else's answered like a missing one. On PGlite, and on
 * PostgreSQL when it is there.
 */
const hasBubblewrap = await needs('bubblewrap');
const ADAPTERS = ['pglite', ...((await needs('postgres')) ? ['postgres' as const] : [])] as const;

const ADA: Who = { tid: 'default', uid: 'ada' };
const BOB: Who = { tid: 'default', uid: 'bob' };
const OUTSIDER: Who = { tid: 'globex', uid: 'ada', admin: true };
const MAX_BYTES = 1_048_576;
const UNKNOWN_ID = '0190a0a0-0000-7000-8000-0000000000ff';

interface ArtifactJson {
  readonly id: string;
  readonly sandbox_id: string;
  readonly path: string;
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
  readonly content_type: string;
  readonly created_at: string;
  readonly url: string;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Files the filesystem object store holds (`…%obj`), as paths below its root. */
async function storedObjects(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'code-sandbox', 'objects');
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('%obj'))
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length));
}

describe.runIf(hasBubblewrap)('artifacts', () => {
  describe.each(ADAPTERS)('on %s', (adapter) => {
    const schema = `sandbox_t${randomBytes(6).toString('hex')}`;
    let sandboxes: TestSandboxService;

    beforeAll(async () => {
      sandboxes = await startSandboxService({
        env: {
          SANDBOX_ARTIFACT_MAX_BYTES: String(MAX_BYTES),
          ...(adapter === 'postgres' ? { DATABASE_URL: postgresUrl(), SANDBOX_SQL_SCHEMA: schema } : {}),
        },
      });
    });

    afterAll(async () => {
      await sandboxes.close();
      if (adapter === 'postgres') await dropSchemas([schema]);
    });

    const eventsOf = (who: Who, id: string): Promise<Response> =>
      fetch(`${sandboxes.url}/sandboxes/${id}/events`, { headers: sandboxes.headers(who) });

    async function createReady(who: Who): Promise<string> {
      const created = await sandboxes.call(who, 'POST', '/sandboxes', {});
      expect(created.status, JSON.stringify(created.json)).toBe(202);
      const id = String(created.json['id']);
      const events = await readSse(
        await eventsOf(who, id),
        (event) =>
          event.event === 'state_changed' && ['ready', 'failed'].includes(String(event.data['state'])),
      );
      expect(events.at(-1)?.data['state']).toBe('ready');
      return id;
    }

    async function run(who: Who, id: string, argv: string[]): Promise<void> {
      const exec = await sandboxes.call(who, 'POST', `/sandboxes/${id}/execs?wait=true`, { argv });
      expect(exec.json, JSON.stringify(exec.json)).toMatchObject({ status: 'exited', exit_code: 0 });
    }

    async function copyOut(who: Who, id: string, path: string): Promise<ArtifactJson> {
      const answer = await sandboxes.call(who, 'POST', `/sandboxes/${id}/artifacts`, { path });
      expect(answer.status, JSON.stringify(answer.json)).toBe(201);
      return answer.json as unknown as ArtifactJson;
    }

    /** The download as a client of the gateway would make it, its `/v1/sandbox` prefix stripped. */
    function download(who: Who, artifact: Pick<ArtifactJson, 'url'>): Promise<Response> {
      expect(artifact.url.startsWith('/v1/sandbox/')).toBe(true);
      return fetch(`${sandboxes.url}${artifact.url.slice('/v1/sandbox'.length)}`, {
        headers: sandboxes.headers(who),
      });
    }

    function workspaceFile(id: string, name: string): Promise<Buffer> {
      return readFile(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', id, 'workspace', name));
    }

    it('copies a file an exec wrote with its sha256, and serves the same bytes back', async () => {
      const id = await createReady(ADA);
      await run(ADA, id, ['sh', '-c', 'mkdir -p out && head -c 300000 /dev/urandom > out/data.bin']);
      const written = await workspaceFile(id, 'out/data.bin');
      expect(written.length).toBe(300_000);

      const artifact = await copyOut(ADA, id, '/workspace/out/data.bin');
      expect(artifact).toEqual({
        id: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        ) as unknown,
        sandbox_id: id,
        path: '/workspace/out/data.bin',
        name: 'data.bin',
        sha256: sha256(written),
        size: 300_000,
        content_type: 'application/octet-stream',
        created_at: expect.any(String) as unknown,
        url: `/v1/sandbox/sandboxes/${id}/artifacts/${artifact.id}`,
      });

      const answer = await download(ADA, artifact);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/octet-stream');
      expect(answer.headers.get('content-length')).toBe('300000');
      expect(answer.headers.get('x-sha256')).toBe(sha256(written));
      expect(answer.headers.get('content-disposition')).toBe(
        `attachment; filename="data.bin"; filename*=UTF-8''data.bin`,
      );
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Buffer.from(await answer.arrayBuffer()).equals(written)).toBe(true);

      // The same file by any of its spellings, each its own copy.
      const again = await copyOut(ADA, id, 'out/data.bin');
      expect(again.id).not.toBe(artifact.id);
      expect(again.sha256).toBe(artifact.sha256);
      const listed = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}/artifacts`);
      expect(listed.status).toBe(200);
      expect((listed.json['data'] as ArtifactJson[]).map((item) => item.id)).toEqual([artifact.id, again.id]);
      const paged = await sandboxes.call(
        ADA,
        'GET',
        `/sandboxes/${id}/artifacts?limit=1&after=${artifact.id}`,
      );
      expect((paged.json['data'] as ArtifactJson[]).map((item) => item.id)).toEqual([again.id]);
    });

    it('names a download safely and gives it a media type by its extension', async () => {
      const id = await createReady(ADA);
      const name = 'résumé "v1".json';
      await run(ADA, id, ['sh', '-c', 'printf %s "$1" > "$2"', 'sh', '{"ok":true}', name]);
      const artifact = await copyOut(ADA, id, name);
      expect(artifact).toMatchObject({ name, content_type: 'application/json', size: 11 });
      const answer = await download(ADA, artifact);
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(answer.headers.get('content-disposition')).toBe(
        `attachment; filename="r_sum_ _v1_.json"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v1%22.json`,
      );
      expect(await answer.text()).toBe('{"ok":true}');
    });

    it('keeps the copy when the file is overwritten and after the sandbox is deleted, until it is removed', async () => {
      const id = await createReady(ADA);
      await run(ADA, id, ['sh', '-c', 'printf first-version > report.txt']);
      const artifact = await copyOut(ADA, id, 'report.txt');
      expect(artifact).toMatchObject({ content_type: 'text/plain', size: 13 });
      const before = await storedObjects(sandboxes.dataDir);
      expect(before.filter((path) => path.includes(artifact.id))).toHaveLength(1);

      await run(ADA, id, ['sh', '-c', 'printf overwritten > report.txt']);
      expect((await workspaceFile(id, 'report.txt')).toString()).toBe('overwritten');
      const kept = await download(ADA, artifact);
      expect(await kept.text()).toBe('first-version');
      expect(kept.headers.get('x-sha256')).toBe(sha256(Buffer.from('first-version')));

      expect((await sandboxes.call(ADA, 'DELETE', `/sandboxes/${id}`)).status).toBe(202);
      await readSse(await eventsOf(ADA, id), (event) => event.event === 'sandbox_deleted');
      expect((await sandboxes.call(ADA, 'GET', `/sandboxes/${id}`)).status).toBe(404);
      const afterDelete = await download(ADA, artifact);
      expect(afterDelete.status).toBe(200);
      expect(await afterDelete.text()).toBe('first-version');
      const listed = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}/artifacts`);
      expect((listed.json['data'] as ArtifactJson[]).map((item) => item.id)).toEqual([artifact.id]);
      // Nothing new comes out of a deleted sandbox.
      const late = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/artifacts`, { path: 'report.txt' });
      expect(late.status).toBe(404);
      expect(late.json).toMatchObject({ code: 'sandbox_unknown' });

      const removed = await sandboxes.call(ADA, 'DELETE', `/sandboxes/${id}/artifacts/${artifact.id}`);
      expect(removed.status).toBe(204);
      const gone = await download(ADA, artifact);
      expect(gone.status).toBe(404);
      expect(await gone.json()).toMatchObject({ code: 'artifact_unknown' });
      const again = await sandboxes.call(ADA, 'DELETE', `/sandboxes/${id}/artifacts/${artifact.id}`);
      expect(again.json).toMatchObject({ code: 'artifact_unknown' });
      expect((await storedObjects(sandboxes.dataDir)).filter((path) => path.includes(artifact.id))).toEqual(
        [],
      );
    });

    it("answers someone else's sandbox or artifact like a missing one", async () => {
      const id = await createReady(ADA);
      await run(ADA, id, ['sh', '-c', 'printf secret > mine.txt']);
      const artifact = await copyOut(ADA, id, 'mine.txt');
      const base = `/sandboxes/${id}/artifacts`;
      for (const who of [BOB, OUTSIDER]) {
        for (const [method, path, body] of [
          ['POST', base, { path: 'mine.txt' }],
          ['GET', base, undefined],
          ['GET', `${base}/${artifact.id}`, undefined],
          ['DELETE', `${base}/${artifact.id}`, undefined],
        ] as const) {
          const answer = await sandboxes.call(who, method, path, body);
          expect(answer.status, `${who.tid}/${who.uid} ${method} ${path}`).toBe(404);
          expect(answer.json).toMatchObject({ code: 'sandbox_unknown' });
        }
      }
      // Bob's own sandbox does not lend him Ada's artifact.
      const bobs = await createReady(BOB);
      for (const method of ['GET', 'DELETE'] as const) {
        const answer = await sandboxes.call(BOB, method, `/sandboxes/${bobs}/artifacts/${artifact.id}`);
        expect(answer.status).toBe(404);
        expect(answer.json).toMatchObject({ code: 'artifact_unknown' });
      }
      const unknown = await sandboxes.call(ADA, 'GET', `${base}/${UNKNOWN_ID}`);
      expect(unknown.json).toMatchObject({ code: 'artifact_unknown' });
      // An admin of the tenant sees every sandbox of it, as with files.
      const admin = await download({ ...BOB, admin: true }, artifact);
      expect(await admin.text()).toBe('secret');
      expect(await (await download(ADA, artifact)).text()).toBe('secret');
    });

    it('refuses traversal, symlinks, directories, missing files and bad input, storing nothing', async () => {
      const id = await createReady(ADA);
      await run(ADA, id, [
        'sh',
        '-c',
        [
          'mkdir -p dir/sub',
          'printf inside > dir/file.txt',
          'ln -s /etc/passwd passwd-link',
          'ln -s dir/file.txt inner-link',
          'ln -s / root-link',
          'ln -s .. up-link',
          'mkfifo pipe',
        ].join(' && '),
      ]);
      const objects = await storedObjects(sandboxes.dataDir);
      const cases: [unknown, number, string][] = [
        [{}, 400, 'invalid_request'],
        [{ path: '' }, 400, 'invalid_request'],
        [{ path: 7 }, 400, 'invalid_request'],
        [{ path: 'dir/file.txt', name: 'x' }, 400, 'invalid_request'],
        [{ path: 'dir' }, 409, 'path_is_directory'],
        [{ path: '/workspace' }, 409, 'path_is_directory'],
        [{ path: '../../../etc/passwd' }, 400, 'path_invalid'],
        [{ path: 'dir/../../etc/passwd' }, 400, 'path_invalid'],
        [{ path: '/workspace/../etc/passwd' }, 400, 'path_invalid'],
        [{ path: 'passwd-link' }, 400, 'path_invalid'],
        [{ path: 'inner-link' }, 400, 'path_invalid'],
        [{ path: 'root-link/etc/passwd' }, 400, 'path_invalid'],
        [{ path: 'up-link/workspace/dir/file.txt' }, 400, 'path_invalid'],
        [{ path: 'pipe' }, 400, 'path_invalid'],
        [{ path: 'dir/\u0000file.txt' }, 400, 'path_invalid'],
        [{ path: 'missing.txt' }, 404, 'path_not_found'],
        [{ path: 'dir/file.txt/more' }, 409, 'path_not_directory'],
      ];
      for (const [body, status, code] of cases) {
        const answer = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/artifacts`, body);
        expect(answer.status, JSON.stringify(body)).toBe(status);
        expect(answer.json, JSON.stringify(body)).toMatchObject({
          code,
          error: expect.any(String) as unknown,
        });
      }
      const listed = await sandboxes.call(ADA, 'GET', `/sandboxes/${id}/artifacts`);
      expect(listed.json).toEqual({ data: [] });
      expect(await storedObjects(sandboxes.dataDir)).toEqual(objects);

      expect((await sandboxes.call(ADA, 'GET', `/sandboxes/${id}/artifacts/not-a-uuid`)).status).toBe(400);
      expect((await sandboxes.call(ADA, 'GET', `/sandboxes/${id}/artifacts?limit=0`)).status).toBe(400);
      expect((await sandboxes.call(ADA, 'GET', `/sandboxes/${id}/artifacts?after=x`)).status).toBe(400);
      // The file a link pointed to inside the workspace is itself fine.
      expect((await copyOut(ADA, id, 'dir/file.txt')).size).toBe(6);
    });

    it('refuses a file past SANDBOX_ARTIFACT_MAX_BYTES with 413 file_too_large', async () => {
      const id = await createReady(ADA);
      await run(ADA, id, [
        'sh',
        '-c',
        `head -c ${MAX_BYTES} /dev/zero > fits.bin && head -c ${MAX_BYTES + 1} /dev/zero > big.bin`,
      ]);
      const objects = await storedObjects(sandboxes.dataDir);
      const big = await sandboxes.call(ADA, 'POST', `/sandboxes/${id}/artifacts`, { path: 'big.bin' });
      expect(big.status).toBe(413);
      expect(big.json).toMatchObject({ code: 'file_too_large' });
      expect(await storedObjects(sandboxes.dataDir)).toEqual(objects);
      const fits = await copyOut(ADA, id, 'fits.bin');
      expect(fits).toMatchObject({ size: MAX_BYTES, sha256: sha256(Buffer.alloc(MAX_BYTES)) });
    });
  });
});
