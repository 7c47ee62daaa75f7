import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Opens a file of an exec's directory for reading. The sandbox can replace these files (it writes them), so
 * never through a symlink and never blocking on a fifo: a link to a host file must not turn the output API
 * into a host file reader.
 */
export function openExecFile(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
}
