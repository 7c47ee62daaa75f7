import { mkdir, mkdtemp, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CheckoutTooLarge, ConfinedGitFs, UnsafeRepositoryPath } from './git-fs.js';

let base: string;
let root: string;
let outside: string;

beforeEach(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'aibox-git-fs-')));
  root = join(base, 'repo');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const confined = (maxBytes = 1_048_576, signal = new AbortController().signal): ConfinedGitFs =>
  new ConfinedGitFs(root, maxBytes, signal);

describe('ConfinedGitFs', () => {
  it('reads and writes inside the repository', async () => {
    const { promises: fs } = confined();
    await fs.mkdir(join(root, 'dir'));
    await fs.writeFile(join(root, 'dir', 'file'), 'content', { mode: 0o755 });
    expect(await fs.readFile(join(root, 'dir', 'file'), 'utf8')).toBe('content');
    expect(await fs.readFile(join(root, 'dir', 'file'))).toEqual(Buffer.from('content'));
    expect(await fs.readdir(join(root, 'dir'))).toEqual(['file']);
    await fs.symlink('file', join(root, 'dir', 'link'));
    expect(await fs.readlink(join(root, 'dir', 'link'))).toBe('file');
    expect(await fs.readlink(join(root, 'dir', 'link'), { encoding: 'buffer' })).toEqual(Buffer.from('file'));
  });

  it('refuses a path that leaves the repository', async () => {
    const { promises: fs } = confined();
    await expect(fs.writeFile(join(root, '..', 'outside', 'x'), 'x')).rejects.toBeInstanceOf(
      UnsafeRepositoryPath,
    );
    await expect(fs.mkdir('/tmp/elsewhere')).rejects.toBeInstanceOf(UnsafeRepositoryPath);
    await expect(fs.readFile('/etc/hostname')).rejects.toBeInstanceOf(UnsafeRepositoryPath);
    expect(await readdir(outside)).toEqual([]);
  });

  it('never writes, creates or lists through a symlink, wherever it is in the path', async () => {
    const { promises: fs } = confined();
    await fs.symlink(outside, join(root, 'link'));
    await expect(fs.writeFile(join(root, 'link', 'pwned'), 'x')).rejects.toBeInstanceOf(UnsafeRepositoryPath);
    await expect(fs.mkdir(join(root, 'link', 'dir'))).rejects.toBeInstanceOf(UnsafeRepositoryPath);
    await expect(fs.symlink('/', join(root, 'link', 'l'))).rejects.toBeInstanceOf(UnsafeRepositoryPath);
    await expect(fs.readdir(join(root, 'link'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await readdir(outside)).toEqual([]);

    // The last component is not followed either.
    await writeFile(join(outside, 'target'), 'host file');
    await fs.symlink(join(outside, 'target'), join(root, 'file-link'));
    await expect(fs.writeFile(join(root, 'file-link'), 'overwritten')).rejects.toMatchObject({
      code: 'ELOOP',
    });
    await expect(fs.readFile(join(root, 'file-link'))).rejects.toMatchObject({ code: 'ELOOP' });
    expect((await fs.stat(join(root, 'file-link'))).isSymbolicLink()).toBe(true);
  });

  it('counts what it writes against the cap', async () => {
    const fs = confined(4_096);
    await fs.promises.writeFile(join(root, 'a'), Buffer.alloc(2_000));
    expect(fs.bytesWritten).toBeGreaterThanOrEqual(2_000);
    await expect(fs.promises.writeFile(join(root, 'b'), Buffer.alloc(2_000))).rejects.toBeInstanceOf(
      CheckoutTooLarge,
    );
  });

  it('fails every call once its signal aborts', async () => {
    const abort = new AbortController();
    const { promises: fs } = confined(1_048_576, abort.signal);
    abort.abort(new Error('stopped'));
    await expect(fs.writeFile(join(root, 'a'), 'x')).rejects.toThrow('stopped');
    expect(await readdir(root)).toEqual([]);
  });
});
