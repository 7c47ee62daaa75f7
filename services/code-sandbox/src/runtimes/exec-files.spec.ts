import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { findExec, watchExitCode } from './exec-files.js';

/** What the wrapper does when the program ends: the status under a temporary name, renamed into place. */
async function wrapperRecords(dir: string, status: number): Promise<void> {
  await writeFile(join(dir, 'exit_code.tmp'), `${String(status)}\n`);
  await rename(join(dir, 'exit_code.tmp'), join(dir, 'exit_code'));
}

describe('an exec found again after a restart', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-exec-files-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is exited with the status its wrapper wrote while the service was away', async () => {
    await wrapperRecords(dir, 7);
    expect(await findExec(dir, () => Promise.reject(new Error('not asked')))).toEqual({ exitCode: 7 });
  });

  it('is running while its processes are', async () => {
    expect(await findExec(dir, () => Promise.resolve(true))).toBe('running');
  });

  it('is exited, not lost, when it ends while the runtime is being asked', async () => {
    const found = await findExec(dir, async () => {
      // The program ends and its wrapper records the status and leaves: the runtime finds nothing running.
      await wrapperRecords(dir, 0);
      return false;
    });
    expect(found).toEqual({ exitCode: 0 });
  });

  it('is lost when nothing runs and nothing was recorded', async () => {
    expect(await findExec(dir, () => Promise.resolve(false))).toBe('lost');
  });

  it('reports a status recorded before the watch began, once', async () => {
    await wrapperRecords(dir, 3);
    const seen: number[] = [];
    const ended = new Promise<void>((resolve) => {
      watchExitCode(dir, (code) => {
        seen.push(code);
        resolve();
      });
    });
    await ended;
    await wrapperRecords(dir, 4);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual([3]);
  });

  it('reports a status recorded while it watches, and nothing after it is stopped', async () => {
    const seen: number[] = [];
    const ended = new Promise<void>((resolve) => {
      watchExitCode(dir, (code) => {
        seen.push(code);
        resolve();
      });
    });
    await wrapperRecords(dir, 0);
    await ended;
    expect(seen).toEqual([0]);

    const other = await mkdtemp(join(tmpdir(), 'aibox-exec-files-'));
    const unseen: number[] = [];
    const stop = watchExitCode(other, (code) => unseen.push(code));
    stop();
    await wrapperRecords(other, 9);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await rm(other, { recursive: true, force: true });
    expect(unseen).toEqual([]);
  });
});
