import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { WorkspaceFiles, type DirectoryAnchor } from './workspace-files.js';

const SECRET = 'the host secret, never to be returned';

interface Member {
  header: Partial<Header> & { name: string };
  content?: string | Buffer;
}

async function tarOf(members: readonly Member[]): Promise<Buffer> {
  const pack = tarPack();
  for (const member of members) {
    if (member.content === undefined) pack.entry(member.header);
    else pack.entry(member.header, member.content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface ReadMember {
  name: string;
  type: Header['type'];
  linkname: string | null;
  content: string;
}

async function membersOf(stream: Readable): Promise<ReadMember[]> {
  const extract = tarExtract();
  stream.pipe(extract);
  const out: ReadMember[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { name, type, linkname } = entry.header;
    out.push({ name, type, linkname, content: Buffer.concat(chunks).toString('latin1') });
  }
  return out;
}

/** The tree below `dir` as the host sees it, without following links. */
async function treeOf(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    const key = `${prefix}${name}`;
    const stats = await lstat(path);
    if (stats.isSymbolicLink()) out[key] = `link:${await readlink(path)}`;
    else if (stats.isDirectory()) Object.assign(out, { [key]: 'dir' }, await treeOf(path, `${key}/`));
    else out[key] = `file:${(await readFile(path)).toString('base64')}`;
  }
  return out;
}

const anchors: DirectoryAnchor[] = existsSync('/proc/self/fd') ? ['descriptor', 'path'] : ['path'];

describe.each(anchors)('WorkspaceFiles (%s anchoring)', (anchor) => {
  let root: string;
  let ws: string;
  let outside: string;
  let files: WorkspaceFiles;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'workspace-files-'));
    ws = join(root, 'workspace');
    outside = join(root, 'outside');
    await mkdir(ws);
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), SECRET);
    files = new WorkspaceFiles({
      maxReadBytes: 1_024,
      maxWriteBytes: 4_096,
      maxArchiveBytes: 64 * 1_024,
      anchor,
    });
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function outsideUntouched(): Promise<void> {
    expect(await readdir(outside)).toEqual(['secret.txt']);
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe(SECRET);
  }

  describe('resolve', () => {
    it.each([
      ['x/y', ['x', 'y']],
      ['/workspace/x/y', ['x', 'y']],
      ['/x/y', ['x', 'y']],
      ['./x//y/', ['x', 'y']],
      ['', []],
      ['.', []],
      ['/workspace', []],
      ['/workspace/', []],
      ['/workspaces/x', ['workspaces', 'x']],
    ])('maps %j into the workspace', (path, segments) => {
      expect(files.resolve(path)).toEqual(segments);
    });

    it.each([
      '..',
      '../x',
      'x/../y',
      '/workspace/../etc',
      'x/..',
      'a\0b',
      'a\nb',
      'a\u007fb',
      'x'.repeat(4_097),
    ])('refuses %j', (path) => {
      expect(() => files.resolve(path)).toThrow(expect.objectContaining({ code: 'path_invalid' }));
    });
  });

  describe('read, write, list, remove', () => {
    it('round-trips a file and lists it', async () => {
      const written = await files.write(ws, '/workspace/notes/a.txt', Buffer.from('hello'), { mkdirs: true });
      expect(written).toEqual({ path: '/workspace/notes/a.txt', size: 5 });

      const read = await files.read(ws, 'notes/a.txt');
      expect(read.content.toString()).toBe('hello');
      expect(read).toMatchObject({ size: 5, offset: 0 });

      const listing = await files.list(ws, '/notes');
      expect(listing.path).toBe('/workspace/notes');
      expect(listing.entries).toEqual([
        { name: 'a.txt', type: 'file', size: 5, modified_at: expect.any(String) as string },
      ]);
      // The temporary file of the atomic write is gone.
      expect(await readdir(join(ws, 'notes'))).toEqual(['a.txt']);
    });

    it('replaces a file, keeping its mode unless told otherwise', async () => {
      await writeFile(join(ws, 'run.sh'), 'old');
      await chmod(join(ws, 'run.sh'), 0o750);
      await files.write(ws, 'run.sh', Buffer.from('new'));
      expect(await readFile(join(ws, 'run.sh'), 'utf8')).toBe('new');
      expect((await stat(join(ws, 'run.sh'))).mode & 0o777).toBe(0o750);

      await files.write(ws, 'run.sh', Buffer.from('newer'), { mode: 0o4755 });
      expect((await stat(join(ws, 'run.sh'))).mode & 0o7777).toBe(0o755);
    });

    it('needs mkdirs for a missing parent', async () => {
      await expect(files.write(ws, 'a/b/c.txt', Buffer.from('x'))).rejects.toMatchObject({
        code: 'path_not_found',
      });
      expect(await readdir(ws)).toEqual([]);
    });

    it('reads by offset and length, and refuses a whole file over the limit naming its size', async () => {
      const big = randomBytes(3_000);
      await writeFile(join(ws, 'big.bin'), big);

      await expect(files.read(ws, 'big.bin')).rejects.toMatchObject({
        code: 'file_too_large',
        message: expect.stringContaining('3000 bytes') as string,
      });
      const slice = await files.read(ws, 'big.bin', { offset: 1_000, length: 100 });
      expect(slice).toMatchObject({ size: 3_000, offset: 1_000 });
      expect(slice.content.equals(big.subarray(1_000, 1_100))).toBe(true);
      // A length over the limit is cut to it.
      expect((await files.read(ws, 'big.bin', { offset: 0, length: 5_000 })).content.length).toBe(1_024);
      expect((await files.read(ws, 'big.bin', { offset: 2_500 })).content.equals(big.subarray(2_500))).toBe(
        true,
      );
      expect((await files.read(ws, 'big.bin', { offset: 9_000 })).content.length).toBe(0);
    });

    it('refuses a write over the limit', async () => {
      await expect(files.write(ws, 'x', Buffer.alloc(4_097))).rejects.toMatchObject({
        code: 'file_too_large',
      });
      expect(await readdir(ws)).toEqual([]);
    });

    it('answers a directory, a missing file and a file used as a directory with their codes', async () => {
      await mkdir(join(ws, 'd'));
      await writeFile(join(ws, 'f'), 'x');
      await expect(files.read(ws, 'd')).rejects.toMatchObject({ code: 'path_is_directory' });
      await expect(files.read(ws, '/workspace')).rejects.toMatchObject({ code: 'path_is_directory' });
      await expect(files.write(ws, 'd', Buffer.from('x'))).rejects.toMatchObject({
        code: 'path_is_directory',
      });
      await expect(files.read(ws, 'nope')).rejects.toMatchObject({ code: 'path_not_found' });
      await expect(files.list(ws, 'f')).rejects.toMatchObject({ code: 'path_not_directory' });
      await expect(files.read(ws, 'f/x')).rejects.toMatchObject({ code: 'path_not_directory' });
    });

    it('lists sorted by name, symlinks with their target and never followed', async () => {
      await writeFile(join(ws, 'b.txt'), 'bb');
      await mkdir(join(ws, 'a-dir'));
      await symlink(outside, join(ws, 'c-link'));

      const { entries } = await files.list(ws, '');
      expect(entries.map((entry) => [entry.name, entry.type, entry.size])).toEqual([
        ['a-dir', 'directory', 0],
        ['b.txt', 'file', 2],
        ['c-link', 'symlink', outside.length],
      ]);
      expect(entries[2]?.link_target).toBe(outside);
      await expect(files.list(ws, 'c-link')).rejects.toMatchObject({ code: 'path_invalid' });
    });

    it('removes files, links (not their targets) and directories, recursive when not empty', async () => {
      await files.write(ws, 'd/e/f.txt', Buffer.from('x'), { mkdirs: true });
      await symlink(outside, join(ws, 'd', 'out'));
      await symlink(join(outside, 'secret.txt'), join(ws, 'link'));

      await files.remove(ws, 'link');
      await expect(files.remove(ws, 'd')).rejects.toMatchObject({ code: 'path_is_directory' });
      await files.remove(ws, '/workspace/d', { recursive: true });
      expect(await readdir(ws)).toEqual([]);
      await outsideUntouched();

      await expect(files.remove(ws, 'd')).rejects.toMatchObject({ code: 'path_not_found' });
      await expect(files.remove(ws, '/workspace')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.remove(ws, '.')).rejects.toMatchObject({ code: 'path_invalid' });
    });

    it.runIf(existsSync('/usr/bin/mkfifo'))('refuses a fifo without waiting for a writer', async () => {
      execFileSync('/usr/bin/mkfifo', [join(ws, 'pipe')]);
      await expect(files.read(ws, 'pipe')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.write(ws, 'pipe', Buffer.from('x'))).rejects.toMatchObject({ code: 'path_invalid' });
    });
  });

  describe('confinement', () => {
    it('refuses ".." rather than reaching the host', async () => {
      await expect(files.read(ws, '../outside/secret.txt')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.read(ws, '/workspace/../outside/secret.txt')).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await expect(files.write(ws, '../outside/x', Buffer.from('x'))).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await outsideUntouched();
    });

    it('maps an absolute host path inside the workspace', async () => {
      await expect(files.read(ws, '/etc/passwd')).rejects.toMatchObject({ code: 'path_not_found' });
      await expect(files.read(ws, join(outside, 'secret.txt'))).rejects.toMatchObject({
        code: 'path_not_found',
      });

      await files.write(ws, '/etc/passwd', Buffer.from('mine'), { mkdirs: true });
      expect(await readFile(join(ws, 'etc', 'passwd'), 'utf8')).toBe('mine');
    });

    it('never reads through a symlink to a host file', async () => {
      await symlink(join(outside, 'secret.txt'), join(ws, 'x'));
      await symlink('../outside/secret.txt', join(ws, 'relative'));

      for (const path of ['x', 'relative', '/workspace/x']) {
        const attempt = files.read(ws, path);
        await expect(attempt).rejects.toMatchObject({ code: 'path_invalid' });
        await expect(attempt).rejects.not.toThrow(SECRET);
      }
    });

    it('never passes through a symlinked directory', async () => {
      await symlink(outside, join(ws, 'dir'));
      await symlink('../..', join(ws, 'up'));

      await expect(files.read(ws, 'dir/secret.txt')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.read(ws, 'up/outside/secret.txt')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.write(ws, 'dir/x', Buffer.from('x'))).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await expect(files.write(ws, 'dir/new/x', Buffer.from('x'), { mkdirs: true })).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await expect(files.write(ws, 'dir/secret.txt', Buffer.from('x'))).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await expect(files.list(ws, 'dir')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.remove(ws, 'dir/secret.txt')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.archive(ws, 'dir')).rejects.toMatchObject({ code: 'path_invalid' });
      await expect(files.extract(ws, 'dir', Readable.from([await tarOf([])]))).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await outsideUntouched();
    });

    it('does not write through a symlink at the target', async () => {
      await symlink(join(outside, 'secret.txt'), join(ws, 'target'));
      await symlink(join(outside, 'missing.txt'), join(ws, 'dangling'));

      await expect(files.write(ws, 'target', Buffer.from('overwritten'))).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await expect(files.write(ws, 'dangling', Buffer.from('created'))).rejects.toMatchObject({
        code: 'path_invalid',
      });
      await outsideUntouched();
      expect(await readlink(join(ws, 'target'))).toBe(join(outside, 'secret.txt'));
    });
  });

  describe('archive and extract', () => {
    async function sampleTree(): Promise<void> {
      await mkdir(join(ws, 'src', 'deep', 'er'), { recursive: true });
      await mkdir(join(ws, 'src', 'empty'));
      await writeFile(join(ws, 'src', 'a.txt'), 'alpha');
      await writeFile(join(ws, 'src', 'deep', 'b.bin'), randomBytes(2_000));
      await writeFile(join(ws, 'src', 'deep', 'er', 'c.txt'), '');
      await writeFile(join(ws, 'src', `${'long-name-'.repeat(12)}.txt`), 'long');
      await symlink('deep/b.bin', join(ws, 'src', 'link'));
      await symlink('..', join(ws, 'src', 'deep', 'parent'));
    }

    it('round-trips a directory, symlinks staying symlinks', async () => {
      await sampleTree();
      const archive = await files.archive(ws, '/workspace/src');
      await mkdir(join(ws, 'copy'));

      const result = await files.extract(ws, 'copy', archive);

      expect(result).toEqual({ files: 4, bytes: 5 + 2_000 + 0 + 4 });
      expect(await treeOf(join(ws, 'copy'))).toEqual(await treeOf(join(ws, 'src')));
      expect((await lstat(join(ws, 'copy', 'link'))).isSymbolicLink()).toBe(true);
    });

    it('names members relative to the directory and stores links without following them', async () => {
      await mkdir(join(ws, 'src'));
      await writeFile(join(ws, 'src', 'a.txt'), 'alpha');
      await symlink(outside, join(ws, 'src', 'host'));
      await symlink(join(outside, 'secret.txt'), join(ws, 'src', 'secret'));

      const members = await membersOf(await files.archive(ws, 'src'));

      expect(members.map(({ name, type, linkname }) => [name, type, linkname])).toEqual([
        ['a.txt', 'file', null],
        ['host', 'symlink', outside],
        ['secret', 'symlink', join(outside, 'secret.txt')],
      ]);
      expect(members.some((member) => member.content.includes(SECRET))).toBe(false);
    });

    it('archives the whole workspace from its root', async () => {
      await writeFile(join(ws, 'top.txt'), 'top');
      const members = await membersOf(await files.archive(ws, ''));
      expect(members.map((member) => member.name)).toEqual(['top.txt']);
    });

    it.runIf(existsSync('/proc/self/fd'))('stops archiving when the reader goes away', async () => {
      await writeFile(join(ws, 'a.bin'), randomBytes(40 * 1_024));
      await writeFile(join(ws, 'b.bin'), randomBytes(10 * 1_024));
      const openBefore = (await readdir('/proc/self/fd')).length;
      const archive = await files.archive(ws, '');

      const first: unknown = await new Promise((resolve) => archive.once('data', resolve));
      archive.destroy();
      await new Promise((resolve) => archive.once('close', resolve));

      expect(Buffer.isBuffer(first)).toBe(true);
      // The abandoned stream's directories and file are closed, not left to the garbage collector.
      await expect.poll(async () => (await readdir('/proc/self/fd')).length).toBe(openBefore);
    });

    it('refuses an archive over the limit before sending anything', async () => {
      await writeFile(join(ws, 'big.bin'), Buffer.alloc(70 * 1_024));
      await expect(files.archive(ws, '')).rejects.toMatchObject({ code: 'file_too_large' });
    });

    it('merges into existing directories and replaces files', async () => {
      await mkdir(join(ws, 'dest', 'keep'), { recursive: true });
      await writeFile(join(ws, 'dest', 'keep', 'old.txt'), 'old');
      await writeFile(join(ws, 'dest', 'replace.txt'), 'before');
      const tar = await tarOf([
        { header: { name: './', type: 'directory' } },
        { header: { name: './keep/', type: 'directory' } },
        { header: { name: './keep/new.txt' }, content: 'new' },
        { header: { name: 'replace.txt' }, content: 'after' },
      ]);

      await files.extract(ws, 'dest', Readable.from([tar]));

      expect(await treeOf(join(ws, 'dest'))).toEqual({
        keep: 'dir',
        'keep/new.txt': `file:${Buffer.from('new').toString('base64')}`,
        'keep/old.txt': `file:${Buffer.from('old').toString('base64')}`,
        'replace.txt': `file:${Buffer.from('after').toString('base64')}`,
      });
    });

    it.each<[string, Member[]]>([
      ['a member climbing out', [{ header: { name: '../x' }, content: 'x' }]],
      ['a member climbing out later on', [{ header: { name: 'a/../../x' }, content: 'x' }]],
      ['an absolute member', [{ header: { name: '/abs' }, content: 'x' }]],
      [
        'a symlink out followed by a file under it (tar-slip)',
        [
          { header: { name: 'up', type: 'symlink', linkname: '../../..' } },
          { header: { name: 'up/outside/x' }, content: 'x' },
        ],
      ],
      ['an absolute symlink', [{ header: { name: 'etc', type: 'symlink', linkname: '/etc' } }]],
      [
        'a file under a symlink that stays inside',
        [
          { header: { name: 'here', type: 'symlink', linkname: '.' } },
          { header: { name: 'here/x' }, content: 'x' },
        ],
      ],
      ['a hard link', [{ header: { name: 'hard', type: 'link', linkname: 'ok.txt' } }]],
      ['a fifo', [{ header: { name: 'pipe', type: 'fifo' } }]],
      ['a device', [{ header: { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 } }]],
      [
        'a directory replacing a file',
        [
          { header: { name: 'same' }, content: 'x' },
          { header: { name: 'same/x' }, content: 'x' },
        ],
      ],
    ])('refuses %s and leaves nothing behind', async (_case, members) => {
      await mkdir(join(ws, 'dest'));
      const tar = await tarOf([{ header: { name: 'ok.txt' }, content: 'fine' }, ...members]);

      await expect(files.extract(ws, 'dest', Readable.from([tar]))).rejects.toMatchObject({
        code: 'archive_invalid',
      });

      expect(await readdir(join(ws, 'dest'))).toEqual([]);
      expect((await readdir(ws)).sort()).toEqual(['dest']);
      await outsideUntouched();
    });

    it('refuses to put a directory where the workspace has a symlink', async () => {
      await mkdir(join(ws, 'dest'));
      await symlink(outside, join(ws, 'dest', 'sub'));
      const tar = await tarOf([{ header: { name: 'sub/x' }, content: 'x' }]);

      await expect(files.extract(ws, 'dest', Readable.from([tar]))).rejects.toMatchObject({
        code: 'archive_invalid',
      });

      expect(await readdir(join(ws, 'dest'))).toEqual(['sub']);
      await outsideUntouched();
    });

    it('refuses a stream that is not a tar', async () => {
      await expect(files.extract(ws, '', Readable.from([randomBytes(2_048)]))).rejects.toMatchObject({
        code: 'archive_invalid',
      });
      const cut = (await tarOf([{ header: { name: 'a.txt' }, content: 'x'.repeat(2_000) }])).subarray(
        0,
        1_024,
      );
      await expect(files.extract(ws, '', Readable.from([cut]))).rejects.toMatchObject({
        code: 'archive_invalid',
      });
      expect(await readdir(ws)).toEqual([]);
    });

    it('refuses archives over the limit, by content and by stream length', async () => {
      const big = await tarOf([{ header: { name: 'big.bin' }, content: Buffer.alloc(65 * 1_024) }]);
      await expect(files.extract(ws, '', Readable.from([big]))).rejects.toMatchObject({
        code: 'file_too_large',
      });

      const many = await tarOf(
        Array.from({ length: 200 }, (_, index) => ({
          header: { name: `f${index}` },
          content: 'x'.repeat(300),
        })),
      );
      await expect(files.extract(ws, '', Readable.from([many]))).rejects.toMatchObject({
        code: 'file_too_large',
      });
      expect(await readdir(ws)).toEqual([]);
    });

    it('extracts modes without set-id bits', async () => {
      const tar = await tarOf([
        { header: { name: 'bin/', type: 'directory', mode: 0o750 } },
        { header: { name: 'bin/tool', mode: 0o4755 }, content: '#!/bin/sh\n' },
      ]);
      await files.extract(ws, '', Readable.from([tar]));
      expect((await stat(join(ws, 'bin', 'tool'))).mode & 0o7777).toBe(0o755);
      expect((await stat(join(ws, 'bin'))).mode & 0o7777).toBe(0o750);
    });
  });

  describe('moveIn', () => {
    async function prepared(): Promise<string> {
      const source = join(root, `staged-${randomBytes(4).toString('hex')}`);
      await mkdir(join(source, 'sub'), { recursive: true });
      await writeFile(join(source, 'sub', 'file'), 'moved');
      await symlink(join(outside, 'secret.txt'), join(source, 'escape'));
      return source;
    }

    it('moves a prepared directory to a new place, creating its parents, links kept as links', async () => {
      const source = await prepared();
      expect(await files.moveIn(ws, 'libs/app', source)).toBe('/workspace/libs/app');
      expect(existsSync(source)).toBe(false);
      expect(await treeOf(ws)).toEqual({
        libs: 'dir',
        'libs/app': 'dir',
        'libs/app/escape': `link:${join(outside, 'secret.txt')}`,
        'libs/app/sub': 'dir',
        'libs/app/sub/file': `file:${Buffer.from('moved').toString('base64')}`,
      });
      await outsideUntouched();
    });

    it('refuses a place that exists, a dangling symlink included, and never goes through a symlink', async () => {
      await mkdir(join(ws, 'taken'));
      await symlink(join(outside, 'new-dir'), join(ws, 'dangling'));
      await symlink(outside, join(ws, 'through'));
      for (const [dest, code] of [
        ['taken', 'path_invalid'],
        ['dangling', 'path_invalid'],
        ['through/app', 'path_invalid'],
        ['../app', 'path_invalid'],
      ] as const) {
        const source = await prepared();
        await expect(files.moveIn(ws, dest, source), dest).rejects.toMatchObject({ code });
        expect(existsSync(join(source, 'sub', 'file'))).toBe(true);
      }
      expect(await readdir(join(ws, 'taken'))).toEqual([]);
      expect(existsSync(join(outside, 'new-dir'))).toBe(false);
      await outsideUntouched();
    });
  });
});
