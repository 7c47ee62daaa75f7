import { constants, watch } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Opens a file of an exec's directory for reading. The sandbox can replace these files (it writes them), so
 * never through a symlink and never blocking on a fifo: a link to a host file must not turn the output API
 * into a host file reader.
 */
export function openExecFile(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
}

/** The status the exec's wrapper wrote to `exit_code`; null when there is none (yet) or it is not a number. */
export async function readExitCode(dir: string): Promise<number | null> {
  let text = '';
  try {
    const file = await openExecFile(join(dir, 'exit_code'));
    try {
      if ((await file.stat()).isFile()) text = (await file.readFile({ encoding: 'utf8' })).slice(0, 16);
    } finally {
      await file.close();
    }
  } catch {
    return null;
  }
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : null;
}

/**
 * Records an exec's status on the wrapper's behalf, when something outside the sandbox ended it (the host's
 * OOM killer took the whole container). Written like the wrapper does: a fresh temporary name (`wx` never
 * follows a link left there) renamed over `exit_code`.
 */
export async function recordExitCode(dir: string, status: number): Promise<void> {
  const temporary = join(dir, 'exit_code.host');
  await rm(temporary, { force: true });
  await writeFile(temporary, `${String(status)}\n`, { flag: 'wx', mode: 0o644 });
  await rename(temporary, join(dir, 'exit_code'));
}

/** What became of an exec the service lost sight of (it restarted): its status, still running, or gone. */
export type ExecFound = { readonly exitCode: number } | 'running' | 'lost';

/**
 * Looks for an exec after a restart: the status its wrapper wrote, else whether it still runs. A status read
 * again after `running` answers no: the program may end between the two looks, and its wrapper records the
 * status before it leaves, so an exec that ended just then is found exited rather than lost.
 */
export async function findExec(dir: string, running: () => Promise<boolean>): Promise<ExecFound> {
  const code = await readExitCode(dir);
  if (code !== null) return { exitCode: code };
  if (await running()) return 'running';
  const late = await readExitCode(dir);
  return late === null ? 'lost' : { exitCode: late };
}

/**
 * Calls `ended` once with the status the wrapper renames into `dir/exit_code`, also when it is there already:
 * an exec found running may end before the watch begins. The returned function stops watching.
 */
export function watchExitCode(dir: string, ended: (exitCode: number) => void): () => void {
  let done = false;
  const look = (): void => {
    void readExitCode(dir).then((code) => {
      if (code === null || done) return;
      stop();
      ended(code);
    });
  };
  const watcher = watch(dir, (_event, name) => {
    if (name === 'exit_code') look();
  });
  const stop = (): void => {
    done = true;
    watcher.close();
  };
  look();
  return stop;
}
