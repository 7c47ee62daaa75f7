import { constants } from 'node:fs';
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises';

import { SandboxError } from '../errors/sandbox.error.js';
import type { RuntimeBind } from './sandbox-runtime.js';

const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = constants;

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/**
 * Opens a host path that was checked earlier (a mount or copy source, as its real path) and makes sure the
 * descriptor holds what that path named then: the kernel's own name for the open object must be the path
 * itself. A symlink swapped in anywhere along it since, or the object moved away, is refused; once open, the
 * descriptor keeps the object whatever happens to the path, so binding or reading through it is race-free.
 */
export async function openHostSource(path: string, type: 'directory' | 'any'): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | (type === 'directory' ? O_DIRECTORY : 0));
  } catch (error: unknown) {
    // Linux answers ENOTDIR, not ELOOP, for a symlink opened with O_DIRECTORY | O_NOFOLLOW.
    const link = await lstat(path).then(
      (stats) => stats.isSymbolicLink(),
      () => false,
    );
    switch (link ? 'ELOOP' : (errnoOf(error) ?? '')) {
      case 'ELOOP':
        throw new SandboxError('mount_not_allowed', `${path} has become a symlink`, { cause: error });
      case 'ENOTDIR':
        throw new SandboxError('mount_source_invalid', `${path} is no longer a directory`, { cause: error });
      case 'ENOENT':
        throw new SandboxError('mount_source_invalid', `${path} no longer exists`, { cause: error });
      default:
        throw error;
    }
  }
  try {
    const named = await readlink(`/proc/self/fd/${handle.fd}`);
    if (named !== path) {
      throw new SandboxError(
        'mount_not_allowed',
        `${path} no longer leads to the directory that was checked (a symlink or a move changed it)`,
      );
    }
    return handle;
  } catch (error: unknown) {
    await handle.close();
    throw error;
  }
}

/** Opens every `host` bind's source (see {@link openHostSource}); all or none stay open. */
export async function openHostBinds(binds: readonly RuntimeBind[]): Promise<Map<RuntimeBind, FileHandle>> {
  const opened = new Map<RuntimeBind, FileHandle>();
  try {
    for (const bind of binds) {
      if (bind.origin === 'host') opened.set(bind, await openHostSource(bind.source, 'directory'));
    }
    return opened;
  } catch (error: unknown) {
    await closeAll(opened.values());
    throw error;
  }
}

export async function closeAll(handles: Iterable<FileHandle>): Promise<void> {
  await Promise.allSettled([...handles].map((handle) => handle.close()));
}
