import { createReadStream, type ReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';

export interface StaticFile {
  readonly size: number;
  readonly modified: Date;
  open(): ReadStream;
}

/**
 * Files of the built SPA (I/O). Every lookup is resolved with `realpath` and must stay inside the root,
 * so neither `..` nor a symbolic link can reach a file outside it.
 */
export class StaticFilesRepository {
  private root: Promise<string> | undefined;

  constructor(private readonly directory: string) {}

  /** The regular file at `relative` (segments already validated), or undefined. */
  async find(relative: readonly string[]): Promise<StaticFile | undefined> {
    const root = await (this.root ??= realpath(this.directory));
    let path: string;
    try {
      path = await realpath([root, ...relative].join(sep));
    } catch {
      return undefined;
    }
    if (!path.startsWith(`${root}${sep}`)) return undefined;
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile()) return undefined;
    return { size: info.size, modified: info.mtime, open: () => createReadStream(path) };
  }
}
