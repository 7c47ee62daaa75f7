import { constants } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  rmdir,
  symlink,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

const { O_CREAT, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY } = constants;

/** What each file, directory or link costs against the size cap besides its bytes (its inode, roughly). */
const ENTRY_BYTES = 512;

/** A path of the repository that would leave its directory or pass through a symlink. */
export class UnsafeRepositoryPath extends Error {
  override readonly name = 'UnsafeRepositoryPath';
}

/** The clone wrote more than its cap. */
export class CheckoutTooLarge extends Error {
  override readonly name = 'CheckoutTooLarge';
}

type Encoding = BufferEncoding | { encoding?: BufferEncoding | null; mode?: number } | null | undefined;

function encodingOf(options: Encoding): BufferEncoding | undefined {
  if (typeof options === 'string') return options;
  return options?.encoding ?? undefined;
}

function modeOf(options: Encoding, fallback: number): number {
  return typeof options === 'object' && options !== null && options.mode !== undefined
    ? options.mode
    : fallback;
}

function lostEntry(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The file system isomorphic-git clones through: only inside `root`, never through a symlink, and within a
 * byte cap. The service runs as root and the repository's content is the remote's to choose (a tree can name
 * a symlink and then a file below it), so every call is checked here rather than trusted to the library:
 * - a path must lie in `root` once resolved, and no directory between `root` and its last component may be a
 *   symlink;
 * - the last component is never followed either: files open with `O_NOFOLLOW`, `stat` answers as `lstat`,
 *   and a directory listing refuses a link;
 * - calls run one at a time, so no call can put a link in place between another's check and its use (nothing
 *   else writes below `root`: it lies outside the workspace, out of the sandbox's reach);
 * - bytes written (and {@link ENTRY_BYTES} per entry created) count against `maxBytes`;
 * - once `signal` aborts, every call fails.
 */
export class ConfinedGitFs {
  readonly promises = {
    readFile: (path: string, options?: Encoding) => this.serial(() => this.readFile(path, options)),
    writeFile: (path: string, data: string | Uint8Array, options?: Encoding) =>
      this.serial(() => this.writeFile(path, data, options)),
    mkdir: (path: string, options?: Encoding) => this.serial(() => this.mkdir(path, options)),
    rmdir: (path: string) => this.serial(async () => rmdir(await this.checked(path))),
    unlink: (path: string) => this.serial(async () => unlink(await this.checked(path))),
    stat: (path: string) => this.serial(async () => lstat(await this.checked(path))),
    lstat: (path: string) => this.serial(async () => lstat(await this.checked(path))),
    readdir: (path: string) => this.serial(() => this.readdir(path)),
    readlink: (path: string, options?: { encoding?: string }) =>
      this.serial(async () => {
        const full = await this.checked(path);
        // isomorphic-git asks for the target as bytes, to store it as a blob.
        return options?.encoding === 'buffer'
          ? readlink(full, { encoding: 'buffer' })
          : readlink(full, 'utf8');
      }),
    symlink: (target: string, path: string) => this.serial(() => this.symlink(target, path)),
    // `rm` never follows a link; `recursive` removes a directory's entries, links as links.
    rm: (path: string, options?: { recursive?: boolean; force?: boolean }) =>
      this.serial(async () =>
        rm(await this.checked(path), {
          recursive: options?.recursive === true,
          force: options?.force === true,
        }),
      ),
  };

  private written = 0;
  private queue: Promise<unknown> = Promise.resolve();

  /** `root` must be an absolute path without symlinks (the service's own staging directory). */
  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
    private readonly signal: AbortSignal,
  ) {}

  /** Bytes written so far, entries counted. */
  get bytesWritten(): number {
    return this.written;
  }

  private serial<T>(call: () => Promise<T>): Promise<T> {
    const result = this.queue.then(() => {
      this.signal.throwIfAborted();
      return call();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** The path, checked: inside `root`, and no symlink among the directories leading to it. */
  private async checked(path: string): Promise<string> {
    if (typeof path !== 'string') throw new TypeError('a path is a string');
    const full = resolve(path);
    const rest = relative(this.root, full);
    if (rest === '') return full;
    const segments = rest.split('/');
    if (segments[0] === '..') {
      throw new UnsafeRepositoryPath('a path leaves the repository');
    }
    let current = this.root;
    for (const segment of segments.slice(0, -1)) {
      current = join(current, segment);
      let isLink: boolean;
      try {
        isLink = (await lstat(current)).isSymbolicLink();
      } catch (error: unknown) {
        // What does not exist cannot redirect anything; the call itself answers for it.
        if (lostEntry(error)) return full;
        throw error;
      }
      if (isLink) throw new UnsafeRepositoryPath(`${rest} passes through a symlink`);
    }
    return full;
  }

  private spend(bytes: number): void {
    this.written += bytes + ENTRY_BYTES;
    if (this.written > this.maxBytes) {
      throw new CheckoutTooLarge(`the clone is larger than ${this.maxBytes} bytes`);
    }
  }

  private async readFile(path: string, options: Encoding): Promise<Buffer | string> {
    const handle = await open(await this.checked(path), O_RDONLY | O_NOFOLLOW);
    try {
      const encoding = encodingOf(options);
      return encoding === undefined ? await handle.readFile() : await handle.readFile({ encoding });
    } finally {
      await handle.close();
    }
  }

  private async writeFile(path: string, data: string | Uint8Array, options: Encoding): Promise<void> {
    const full = await this.checked(path);
    const bytes = typeof data === 'string' ? Buffer.from(data, encodingOf(options) ?? 'utf8') : data;
    this.spend(bytes.length);
    let handle: FileHandle | undefined;
    try {
      handle = await open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, modeOf(options, 0o666));
      await handle.writeFile(bytes);
    } finally {
      await handle?.close();
    }
  }

  private async mkdir(path: string, options: Encoding): Promise<void> {
    const full = await this.checked(path);
    this.spend(0);
    await mkdir(full, { mode: modeOf(options, 0o777) });
  }

  private async readdir(path: string): Promise<string[]> {
    const full = await this.checked(path);
    if ((await lstat(full)).isSymbolicLink()) {
      throw Object.assign(new Error(`${path} is a symlink`), { code: 'ENOTDIR' });
    }
    return readdir(full);
  }

  private async symlink(target: string, path: string): Promise<void> {
    const full = await this.checked(path);
    this.spend(Buffer.byteLength(target));
    await symlink(target, full);
  }
}
