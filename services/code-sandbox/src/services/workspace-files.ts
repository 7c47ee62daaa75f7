import { randomBytes } from 'node:crypto';
import { constants, existsSync, type Stats } from 'node:fs';
import {
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rmdir,
  stat,
  symlink,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { Readable } from 'node:stream';

import { extract as tarExtract, pack as tarPack, type ExtractEvents, type Pack } from 'tar-stream';

import { ByteLimit } from '@aibox/platform';

import { SandboxError } from '../errors/sandbox.error.js';
import { packOpenFile } from './tar-pack.js';

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

/** What programs in the sandbox call their workspace; paths may start with it. */
const WORKSPACE = '/workspace';
const MAX_PATH_CHARS = 4_096;
const MAX_NAME_BYTES = 255;
/** Walks that recurse hold a descriptor per level; a tree deeper than this is refused, not followed down. */
const MAX_TREE_DEPTH = 128;
const CHUNK_BYTES = 65_536;
const TAR_BLOCK = 512;
/** The two zero blocks that end a tar stream. */
const TAR_END = 2 * TAR_BLOCK;
const PERMISSION_BITS = 0o777;
const CONTROL = /\p{Cc}/u;

/**
 * How a directory already opened is named when opening something in it.
 *
 * - `descriptor` (Linux): through `/proc/self/fd/<fd>/<name>`. The kernel resolves `/proc/self/fd/<fd>` to the
 *   open directory itself, so this is `openat(fd, name)`: with one component per step and `O_NOFOLLOW`,
 *   nothing a program in the sandbox does to the tree meanwhile can make a lookup leave the workspace (nor
 *   can it move a directory the service holds out of it: its only view is the workspace mount).
 * - `path` (elsewhere): through the directory's real path. Each component is still opened with
 *   `O_NOFOLLOW`, and every open is checked afterwards (its real path lies in the workspace's and names the
 *   object the descriptor holds). A window remains: a program could swap a directory already checked for a
 *   symlink before the next component is opened below it; the check after the open refuses what that
 *   reaches, but a `mkdir` or a file creation in it would already have happened outside.
 */
export type DirectoryAnchor = 'descriptor' | 'path';

export interface WorkspaceFilesLimits {
  /** The most bytes one read returns. */
  readonly maxReadBytes: number;
  /** The largest file one write stores. */
  readonly maxWriteBytes: number;
  /** The largest tar stream `archive` produces and `extract` accepts. */
  readonly maxArchiveBytes: number;
  /** `descriptor` where `/proc/self/fd` exists, else `path`; tests set it to cover both. */
  readonly anchor?: DirectoryAnchor;
}

export type WorkspaceEntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface WorkspaceEntry {
  readonly name: string;
  readonly type: WorkspaceEntryType;
  /** Bytes of a file, length of a symlink's target, 0 for the rest. */
  readonly size: number;
  readonly modified_at: string;
  /** A symlink's target as written; never followed. */
  readonly link_target?: string;
}

export interface WorkspaceListing {
  /** The directory as the sandbox sees it, `/workspace/…`. */
  readonly path: string;
  readonly entries: WorkspaceEntry[];
}

export interface FileSlice {
  readonly content: Buffer;
  /** The whole file's size. */
  readonly size: number;
  readonly offset: number;
}

export interface WrittenFile {
  readonly path: string;
  readonly size: number;
}

/** Who files handed to a sandbox's programs belong to on the host. */
export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

export interface Unpacked {
  /** Regular files written. */
  readonly files: number;
  /** Their bytes. */
  readonly bytes: number;
}

/** A regular file of the workspace, open for reading (see `WorkspaceFiles.withFile`). */
export interface OpenWorkspaceFile {
  /** As the sandbox sees it, `/workspace/…`. */
  readonly path: string;
  /** Its last segment. */
  readonly name: string;
  /** Its size when it was opened. */
  readonly size: number;
  /** Its bytes from the start, from the open file: a rename or a link put at its path meanwhile changes nothing. */
  content(): Readable;
}

export interface ReadOptions {
  readonly offset?: number;
  readonly length?: number;
}

export interface WriteOptions {
  /** Create missing parent directories. */
  readonly mkdirs?: boolean;
  /** Permission bits; by default those of the file replaced, else 0644. */
  readonly mode?: number;
}

/** An open directory of the workspace, and the name under which the kernel finds things in it. */
interface Dir {
  readonly handle: FileHandle;
  readonly base: string;
  /** From the workspace root, for messages. */
  readonly segments: readonly string[];
  /** The workspace's real path, to check opens against (`path` anchoring only). */
  readonly rootReal: string | undefined;
}

interface ArchiveEntry {
  readonly type: 'file' | 'directory' | 'symlink';
  /** From the archived directory. */
  readonly segments: readonly string[];
  readonly linkname: string;
  readonly mode: number;
  readonly mtime: Date;
}

interface StagedDirectory {
  readonly segments: readonly string[];
  readonly mode: number;
  readonly mtime: Date;
}

interface Staged {
  files: number;
  bytes: number;
  readonly directories: StagedDirectory[];
}

type TarEntry = ExtractEvents['entry'][1];

function defaultAnchor(): DirectoryAnchor {
  return process.platform === 'linux' && existsSync('/proc/self/fd') ? 'descriptor' : 'path';
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** The path as programs in the sandbox see it; never the host's. */
function shown(segments: readonly string[]): string {
  return segments.length === 0 ? WORKSPACE : `${WORKSPACE}/${segments.join('/')}`;
}

function shownEntry(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

function at(dir: Dir, name: string): string {
  return `${dir.base}/${name}`;
}

function descriptorPath(handle: FileHandle): string {
  return `/proc/self/fd/${handle.fd}`;
}

function inside(rootReal: string, real: string): boolean {
  return real === rootReal || real.startsWith(rootReal.endsWith('/') ? rootReal : `${rootReal}/`);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function tarPadded(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

/**
 * The bytes an entry takes in the tar stream, at most: tar-stream writes a plain header when the name and
 * link fit its fields, else a pax header before it (counted here whenever a name is long or not ASCII).
 */
function tarEntryBytes(name: string, linkname: string, size: number): number {
  const plain = /^[\x20-\x7e]*$/.test(name + linkname) && name.length <= 100 && linkname.length <= 100;
  const pax = plain
    ? 0
    : 2 * TAR_BLOCK + tarPadded(Buffer.byteLength(name) + Buffer.byteLength(linkname) + 64);
  return TAR_BLOCK + pax + tarPadded(size);
}

function archiveName(entry: ArchiveEntry): string {
  const name = entry.segments.join('/');
  return entry.type === 'directory' ? `${name}/` : name;
}

function pathError(error: unknown, segments: readonly string[]): unknown {
  const path = shown(segments);
  switch (errnoOf(error) ?? '') {
    case 'ENOENT':
      return new SandboxError('path_not_found', path, { cause: error });
    case 'ENOTDIR':
      return new SandboxError('path_not_directory', `a component of ${path} is not a directory`, {
        cause: error,
      });
    case 'EISDIR':
      return new SandboxError('path_is_directory', path, { cause: error });
    case 'ELOOP':
      return new SandboxError('path_invalid', `${path} is a symlink`, { cause: error });
    case 'ENXIO':
      return new SandboxError('path_invalid', `${path} is not a regular file`, { cause: error });
    case 'ENAMETOOLONG':
      return new SandboxError('path_invalid', `${path} is too long`, { cause: error });
    default:
      return error;
  }
}

/**
 * Something a concurrent change in the workspace removed or replaced (a file gone, a directory turned into a
 * file or a symlink): skipped by walks, not fatal to them. Judged by the system's answer, so a refusal of the
 * service's own (a tree too deep) is not mistaken for one.
 */
function vanished(error: unknown): boolean {
  const code = errnoOf(error instanceof SandboxError ? error.cause : error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

async function ignoreMissing(operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (error: unknown) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
}

async function lstatOrNothing(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error: unknown) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

function entryType(stats: Stats): WorkspaceEntryType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

function archiveInvalid(detail: string, cause?: unknown): SandboxError {
  return new SandboxError('archive_invalid', detail, cause === undefined ? {} : { cause });
}

/** A tar member's name as segments below the destination; absolute names and `..` are refused. */
function memberPath(name: string): string[] {
  if (name.includes('\0') || name.length > MAX_PATH_CHARS) {
    throw archiveInvalid(`${shownEntry(name)} is not a valid name`);
  }
  if (name.startsWith('/')) throw archiveInvalid(`${shownEntry(name)} is an absolute path`);
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw archiveInvalid(`${shownEntry(name)} climbs out with ".."`);
  if (segments.length > MAX_TREE_DEPTH) {
    throw archiveInvalid(`${shownEntry(name)} is nested deeper than ${MAX_TREE_DEPTH} levels`);
  }
  if (segments.some((segment) => Buffer.byteLength(segment) > MAX_NAME_BYTES)) {
    throw archiveInvalid(`${shownEntry(name)} has a name longer than ${MAX_NAME_BYTES} bytes`);
  }
  return segments;
}

/**
 * A symlink must point inside the destination, judged by its text alone: relative, and never climbing above
 * the destination. This is hygiene — the service's own safety rests on never following a link, since a
 * program in the sandbox can make any link it likes anyway.
 */
function checkLinkTarget(name: string, segments: readonly string[], linkname: string): void {
  if (linkname === '' || linkname.includes('\0') || linkname.length > MAX_PATH_CHARS) {
    throw archiveInvalid(`the symlink ${shownEntry(name)} has no valid target`);
  }
  if (linkname.startsWith('/')) {
    throw archiveInvalid(`the symlink ${shownEntry(name)} points to an absolute path`);
  }
  let depth = segments.length - 1;
  for (const part of linkname.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) throw archiveInvalid(`the symlink ${shownEntry(name)} points out of the destination`);
  }
}

/** A failure of the tar stream itself (not of the workspace), as the caller's fault. */
function malformed(error: unknown): SandboxError {
  return error instanceof SandboxError
    ? error
    : archiveInvalid('the tar stream is malformed or cut short', error);
}

/** A member's bytes; failures of the stream under it are the archive's. */
async function* contentOf(member: TarEntry): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of member) {
      if (!Buffer.isBuffer(chunk)) throw new TypeError('tar-stream handed on something else than bytes');
      yield chunk;
    }
  } catch (error: unknown) {
    throw malformed(error);
  }
}

async function drain(member: TarEntry): Promise<void> {
  for await (const chunk of contentOf(member)) {
    if (chunk.length > 0) throw archiveInvalid(`${shownEntry(member.header.name)} carries data`);
  }
}

function packed(pack: Pack, header: Parameters<Pack['entry']>[0]): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/**
 * A sandbox's workspace files, read and written from the host without ever following a symlink and without
 * touching anything outside the workspace, whatever the path says and whatever programs in the sandbox do
 * to the tree meanwhile (see {@link DirectoryAnchor}). Paths are the sandbox's: `x/y`, `/x/y` and
 * `/workspace/x/y` all name the same file.
 */
export class WorkspaceFiles {
  private readonly anchor: DirectoryAnchor;

  constructor(private readonly limits: WorkspaceFilesLimits) {
    this.anchor = limits.anchor ?? defaultAnchor();
  }

  /** The path's segments below the workspace root (none for the root); `path_invalid` when not allowed. */
  resolve(path: string): string[] {
    if (path.length > MAX_PATH_CHARS) {
      throw new SandboxError('path_invalid', `a path is at most ${MAX_PATH_CHARS} characters`);
    }
    if (CONTROL.test(path)) {
      throw new SandboxError('path_invalid', 'a path may not contain control characters');
    }
    const relative =
      path === WORKSPACE ? '' : path.startsWith(`${WORKSPACE}/`) ? path.slice(WORKSPACE.length + 1) : path;
    const segments = relative.split('/').filter((segment) => segment !== '' && segment !== '.');
    if (segments.includes('..')) throw new SandboxError('path_invalid', 'a path may not contain ".."');
    if (segments.some((segment) => Buffer.byteLength(segment) > MAX_NAME_BYTES)) {
      throw new SandboxError('path_invalid', `a name is at most ${MAX_NAME_BYTES} bytes`);
    }
    return segments;
  }

  async read(workspaceDir: string, path: string, options: ReadOptions = {}): Promise<FileSlice> {
    return this.inRegularFile(workspaceDir, path, async (handle, stats, segments) => {
      const offset = options.offset ?? 0;
      const available = Math.max(0, stats.size - offset);
      const max = this.limits.maxReadBytes;
      if (options.length === undefined && available > max) {
        throw new SandboxError(
          'file_too_large',
          `${shown(segments)} is ${stats.size} bytes; read at most ${max} bytes at a time with offset and length`,
        );
      }
      const wanted = Math.min(options.length ?? available, available, max);
      const content = Buffer.alloc(wanted);
      let filled = 0;
      while (filled < wanted) {
        const { bytesRead } = await handle.read(content, filled, wanted - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return { content: content.subarray(0, filled), size: stats.size, offset };
    });
  }

  /**
   * Opens a regular file of the workspace for reading exactly as `read` does, and hands it to `use` to be
   * streamed from its start. The file is closed once `use` settles, so `use` must be done with its streams.
   */
  async withFile<T>(
    workspaceDir: string,
    path: string,
    use: (file: OpenWorkspaceFile) => Promise<T>,
  ): Promise<T> {
    return this.inRegularFile(workspaceDir, path, async (handle, stats, segments) => {
      const streams: Readable[] = [];
      try {
        return await use({
          path: shown(segments),
          name: segments.at(-1) ?? '',
          size: stats.size,
          content: () => {
            const stream = handle.createReadStream({
              start: 0,
              autoClose: false,
              highWaterMark: CHUNK_BYTES,
            });
            streams.push(stream);
            return stream;
          },
        });
      } finally {
        for (const stream of streams) stream.destroy();
      }
    });
  }

  /** Replaces the file at once (a temporary file beside it, renamed over it); never writes through a symlink. */
  async write(
    workspaceDir: string,
    path: string,
    content: Buffer,
    options: WriteOptions = {},
  ): Promise<WrittenFile> {
    const segments = this.resolve(path);
    const name = segments.at(-1);
    if (name === undefined) throw new SandboxError('path_is_directory', WORKSPACE);
    if (content.length > this.limits.maxWriteBytes) {
      throw new SandboxError(
        'file_too_large',
        `${content.length} bytes; one write stores at most ${this.limits.maxWriteBytes}`,
      );
    }
    return this.inWorkspace(workspaceDir, segments.slice(0, -1), options.mkdirs === true, async (parent) => {
      const existing = await lstatOrNothing(at(parent, name)).catch((error: unknown) => {
        throw pathError(error, segments);
      });
      if (existing?.isDirectory() === true) throw new SandboxError('path_is_directory', shown(segments));
      if (existing?.isSymbolicLink() === true) {
        throw new SandboxError('path_invalid', `${shown(segments)} is a symlink`);
      }
      if (existing !== undefined && !existing.isFile()) {
        throw new SandboxError('path_invalid', `${shown(segments)} is not a regular file`);
      }
      const mode = (options.mode ?? existing?.mode ?? 0o644) & PERMISSION_BITS;
      const temporary = `.aibox-write-${randomBytes(8).toString('hex')}`;
      // O_EXCL never opens what is there already, a symlink included.
      const handle = await this.openFile(parent, temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600);
      try {
        try {
          await writeAll(handle, content);
          await handle.chmod(mode);
        } finally {
          await handle.close();
        }
        // rename replaces a symlink that appeared at the target meanwhile, never writes through it.
        await rename(at(parent, temporary), at(parent, name));
      } catch (error: unknown) {
        await ignoreMissing(unlink(at(parent, temporary)));
        throw pathError(error, segments);
      }
      return { path: shown(segments), size: content.length };
    });
  }

  async list(workspaceDir: string, path: string): Promise<WorkspaceListing> {
    const segments = this.resolve(path);
    return this.inWorkspace(workspaceDir, segments, false, async (dir) => {
      const names = await readdir(dir.base);
      const entries = await Promise.all(names.map((name) => this.describe(dir, name)));
      return {
        path: shown(segments),
        entries: entries
          .filter((entry): entry is WorkspaceEntry => entry !== undefined)
          .sort((a, b) => byName(a.name, b.name)),
      };
    });
  }

  /** Deletes a file, a symlink (the link, not its target) or a directory (`recursive` when not empty). */
  async remove(workspaceDir: string, path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const segments = this.resolve(path);
    const name = segments.at(-1);
    if (name === undefined) throw new SandboxError('path_invalid', 'the workspace root cannot be removed');
    await this.inWorkspace(workspaceDir, segments.slice(0, -1), false, async (parent) => {
      const stats = await lstat(at(parent, name)).catch((error: unknown) => {
        throw pathError(error, segments);
      });
      try {
        if (!stats.isDirectory()) {
          await unlink(at(parent, name));
          return;
        }
        if (options.recursive === true) {
          await this.inDir(parent, [name], false, (dir) => this.clear(dir, 1));
        }
        await rmdir(at(parent, name));
      } catch (error: unknown) {
        const code = errnoOf(error);
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new SandboxError(
            'path_is_directory',
            `${shown(segments)} is not empty; remove it with recursive`,
          );
        }
        throw pathError(error, segments);
      }
    });
  }

  /**
   * The directory as a tar stream: files, directories and symlinks (as links, never followed), names relative
   * to it; sockets, fifos and devices are left out. Refused before a byte is sent when it would exceed
   * `maxArchiveBytes`; a tree that grows past it while streaming fails the stream.
   */
  async archive(workspaceDir: string, path: string): Promise<Readable> {
    const segments = this.resolve(path);
    const budget = { left: this.limits.maxArchiveBytes - TAR_END };
    const entries: ArchiveEntry[] = [];
    await this.inWorkspace(workspaceDir, segments, false, (dir) => this.collect(dir, [], entries, budget));
    const pack = tarPack();
    // Opened again for the stream: the first walk's descriptors are not kept across the caller's pace.
    this.inWorkspace(workspaceDir, segments, false, (dir) => this.fill(dir, entries, pack)).then(
      () => {
        pack.finalize();
      },
      (error: unknown) => {
        pack.destroy(error instanceof Error ? error : new Error('archiving failed'));
      },
    );
    return Readable.from(pack, { objectMode: false });
  }

  /**
   * Unpacks a tar stream into the directory. Members land in a staging directory beside them first, so a
   * refused archive (absolute names, `..`, hard links, devices, fifos, symlinks pointing out, more than
   * `maxArchiveBytes`) leaves nothing behind; then they are moved in, merging into existing directories and
   * replacing files. A member that would replace a directory or pass through a symlink is refused before
   * anything moves; only a program changing the destination during the moves can still stop them midway.
   */
  async extract(workspaceDir: string, path: string, tar: Readable): Promise<Unpacked> {
    const segments = this.resolve(path);
    return this.inWorkspace(workspaceDir, segments, false, async (dest) => {
      const stagingName = `.aibox-extract-${randomBytes(8).toString('hex')}`;
      await mkdir(at(dest, stagingName), 0o700);
      try {
        const staged = await this.inDir(dest, [stagingName], false, async (staging) => {
          const unpacked = await this.unpack(staging, tar);
          await this.checkMerge(staging, dest, []);
          await this.merge(staging, dest);
          return unpacked;
        });
        await this.applyDirectoryModes(dest, staged.directories);
        return { files: staged.files, bytes: staged.bytes };
      } finally {
        await this.discard(dest, stagingName);
      }
    });
  }

  /**
   * Moves `source`, a directory the service prepared outside the workspace on the same file system, to
   * `path`, which must not exist yet. Missing parents are created (and given to `owner` when set). Nothing is
   * followed on the way: the parents are opened one component at a time like every other call, and the place
   * is taken with `mkdir` (which fails on anything there, a dangling symlink included) before `source` is
   * renamed over that empty directory. A symlink inside `source` moves as a link.
   */
  async moveIn(
    workspaceDir: string,
    path: string,
    source: string,
    options: { owner?: { uid: number; gid: number } } = {},
  ): Promise<string> {
    const segments = this.resolve(path);
    const name = segments.at(-1);
    if (name === undefined) throw new SandboxError('path_invalid', 'the workspace root exists already');
    const root = await this.openRoot(workspaceDir);
    const opened: Dir[] = [];
    try {
      let parent = root;
      for (const segment of segments.slice(0, -1)) {
        const created = await mkdir(at(parent, segment), 0o755).then(
          () => true,
          (error: unknown) => {
            if (errnoOf(error) === 'EEXIST') return false;
            throw pathError(error, [...parent.segments, segment]);
          },
        );
        parent = await this.openDirectory(parent, segment);
        opened.push(parent);
        if (created && options.owner !== undefined) {
          await parent.handle.chown(options.owner.uid, options.owner.gid);
        }
      }
      await mkdir(at(parent, name), 0o700).catch((error: unknown) => {
        if (errnoOf(error) === 'EEXIST') {
          throw new SandboxError('path_invalid', `${shown(segments)} exists already`);
        }
        throw pathError(error, segments);
      });
      await rename(source, at(parent, name)).catch(async (error: unknown) => {
        // The placeholder only; if something got into it meanwhile, it stays for the sandbox's cleanup.
        await rmdir(at(parent, name)).catch(() => undefined);
        throw pathError(error, segments);
      });
      return shown(segments);
    } finally {
      for (const dir of opened.reverse()) await dir.handle.close();
      await root.handle.close();
    }
  }

  /** A regular file of the workspace, open for reading; a directory, fifo, device or symlink is refused. */
  private async inRegularFile<T>(
    workspaceDir: string,
    path: string,
    use: (handle: FileHandle, stats: Stats, segments: readonly string[]) => Promise<T>,
  ): Promise<T> {
    const segments = this.resolve(path);
    const name = segments.at(-1);
    if (name === undefined) throw new SandboxError('path_is_directory', WORKSPACE);
    return this.inWorkspace(workspaceDir, segments.slice(0, -1), false, async (parent) => {
      const handle = await this.openFile(parent, name, O_RDONLY);
      try {
        const stats = await handle.stat();
        if (stats.isDirectory()) throw new SandboxError('path_is_directory', shown(segments));
        if (!stats.isFile()) {
          throw new SandboxError('path_invalid', `${shown(segments)} is not a regular file`);
        }
        return await use(handle, stats, segments);
      } finally {
        await handle.close();
      }
    });
  }

  /**
   * Creates the directory and any missing parents (an existing one is kept), never through a symlink; with
   * `owner`, every directory along the path is given to it.
   */
  async makeDirectory(workspaceDir: string, path: string, owner?: FileOwner): Promise<void> {
    const segments = this.resolve(path);
    for (let depth = owner === undefined ? segments.length : 1; depth <= segments.length; depth += 1) {
      await this.inWorkspace(workspaceDir, segments.slice(0, depth), true, async (dir) => {
        if (owner !== undefined) await dir.handle.chown(owner.uid, owner.gid);
      });
    }
  }

  /**
   * Gives a file, symlink or directory tree of the workspace to `owner` (the link itself, never its target),
   * opening each directory without following links.
   */
  async chownTree(workspaceDir: string, path: string, owner: FileOwner): Promise<void> {
    const segments = this.resolve(path);
    const name = segments.at(-1);
    if (name === undefined) {
      await this.inWorkspace(workspaceDir, [], false, async (root) => {
        await root.handle.chown(owner.uid, owner.gid);
        await this.chownBelow(root, owner, 1);
      });
      return;
    }
    await this.inWorkspace(workspaceDir, segments.slice(0, -1), false, (parent) =>
      this.chownEntry(parent, name, owner, 1),
    );
  }

  private async chownBelow(dir: Dir, owner: FileOwner, depth: number): Promise<void> {
    if (depth > MAX_TREE_DEPTH) {
      throw new SandboxError(
        'path_invalid',
        `${shown(dir.segments)} is nested deeper than ${MAX_TREE_DEPTH} levels`,
      );
    }
    for (const name of await readdir(dir.base)) await this.chownEntry(dir, name, owner, depth + 1);
  }

  private async chownEntry(dir: Dir, name: string, owner: FileOwner, depth: number): Promise<void> {
    const stats = await lstatOrNothing(at(dir, name));
    try {
      if (stats?.isDirectory() === true) {
        await this.inDir(dir, [name], false, async (child) => {
          await child.handle.chown(owner.uid, owner.gid);
          await this.chownBelow(child, owner, depth);
        });
      } else if (stats?.isSymbolicLink() === true) {
        await lchown(at(dir, name), owner.uid, owner.gid);
      } else if (stats?.isFile() === true) {
        const handle = await this.openFile(dir, name, O_RDONLY);
        try {
          await handle.chown(owner.uid, owner.gid);
        } finally {
          await handle.close();
        }
      }
    } catch (error: unknown) {
      if (!vanished(error)) throw error;
    }
  }

  private async openRoot(workspaceDir: string): Promise<Dir> {
    const handle = await open(workspaceDir, O_RDONLY | O_DIRECTORY);
    if (this.anchor === 'descriptor') {
      return { handle, base: descriptorPath(handle), segments: [], rootReal: undefined };
    }
    try {
      const real = await realpath(workspaceDir);
      return { handle, base: real, segments: [], rootReal: real };
    } catch (error: unknown) {
      await handle.close();
      throw error;
    }
  }

  private async inWorkspace<T>(
    workspaceDir: string,
    segments: readonly string[],
    mkdirs: boolean,
    use: (dir: Dir) => Promise<T>,
  ): Promise<T> {
    const root = await this.openRoot(workspaceDir);
    try {
      return await this.inDir(root, segments, mkdirs, use);
    } finally {
      await root.handle.close();
    }
  }

  /** Opens the directory `segments` below `from` one component at a time (`from` stays open). */
  private async inDir<T>(
    from: Dir,
    segments: readonly string[],
    mkdirs: boolean,
    use: (dir: Dir) => Promise<T>,
  ): Promise<T> {
    let dir = from;
    try {
      for (const name of segments) {
        if (mkdirs) {
          await mkdir(at(dir, name), 0o755).catch((error: unknown) => {
            if (errnoOf(error) !== 'EEXIST') throw pathError(error, [...dir.segments, name]);
          });
        }
        const next = await this.openDirectory(dir, name);
        if (dir !== from) await dir.handle.close();
        dir = next;
      }
      return await use(dir);
    } finally {
      if (dir !== from) await dir.handle.close();
    }
  }

  private async openDirectory(dir: Dir, name: string): Promise<Dir> {
    const segments = [...dir.segments, name];
    let handle: FileHandle;
    try {
      handle = await open(at(dir, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (error: unknown) {
      const code = errnoOf(error);
      // Linux answers ENOTDIR, not ELOOP, for a symlink opened with O_DIRECTORY | O_NOFOLLOW.
      if (code === 'ENOTDIR' || code === 'ELOOP') {
        const stats = await lstatOrNothing(at(dir, name));
        if (stats?.isSymbolicLink() === true) {
          throw new SandboxError('path_invalid', `${shown(segments)} is a symlink`, { cause: error });
        }
        throw new SandboxError('path_not_directory', shown(segments), { cause: error });
      }
      throw pathError(error, segments);
    }
    try {
      const base = await this.confine(dir, handle, at(dir, name), segments);
      return { handle, base, segments, rootReal: dir.rootReal };
    } catch (error: unknown) {
      await handle.close();
      throw error;
    }
  }

  /** Opens a file in `dir`, never through a symlink, never waiting on a fifo. */
  private async openFile(dir: Dir, name: string, flags: number, mode?: number): Promise<FileHandle> {
    const segments = [...dir.segments, name];
    const handle = await open(at(dir, name), flags | O_NOFOLLOW | O_NONBLOCK, mode).catch(
      (error: unknown) => {
        throw pathError(error, segments);
      },
    );
    try {
      await this.confine(dir, handle, at(dir, name), segments);
      return handle;
    } catch (error: unknown) {
      // A file this call created where it should not have is taken back, if the name still holds it.
      const created = (flags & O_CREAT) !== 0 ? await handle.stat() : undefined;
      await handle.close();
      const there = created === undefined ? undefined : await lstatOrNothing(at(dir, name));
      if (created !== undefined && there?.dev === created.dev && there.ino === created.ino) {
        await ignoreMissing(unlink(at(dir, name)));
      }
      throw error;
    }
  }

  /**
   * The base under which to open things in what `handle` holds. With `path` anchoring, also the check that
   * narrows its window: the opened object still lies in the workspace, at the path it was opened by.
   */
  private async confine(
    dir: Dir,
    handle: FileHandle,
    opened: string,
    segments: readonly string[],
  ): Promise<string> {
    if (dir.rootReal === undefined) return descriptorPath(handle);
    const moved = new SandboxError('path_invalid', `${shown(segments)} changed while it was being opened`);
    const real = await realpath(opened).catch(() => {
      throw moved;
    });
    if (!inside(dir.rootReal, real)) throw moved;
    const [held, there] = await Promise.all([handle.stat(), stat(real)]);
    if (held.dev !== there.dev || held.ino !== there.ino) throw moved;
    return real;
  }

  private async describe(dir: Dir, name: string): Promise<WorkspaceEntry | undefined> {
    const stats = await lstatOrNothing(at(dir, name));
    if (stats === undefined) return undefined;
    const type = entryType(stats);
    const entry = {
      name,
      type,
      size: type === 'file' || type === 'symlink' ? stats.size : 0,
      modified_at: stats.mtime.toISOString(),
    };
    if (type !== 'symlink') return entry;
    try {
      return { ...entry, link_target: await readlink(at(dir, name)) };
    } catch (error: unknown) {
      if (vanished(error)) return undefined;
      throw error;
    }
  }

  /** Deletes everything in `dir`, depth first, opening each subdirectory without following links. */
  private async clear(dir: Dir, depth: number): Promise<void> {
    if (depth > MAX_TREE_DEPTH) {
      throw new SandboxError(
        'path_invalid',
        `${shown(dir.segments)} is nested deeper than ${MAX_TREE_DEPTH} levels`,
      );
    }
    for (const name of await readdir(dir.base)) {
      const stats = await lstatOrNothing(at(dir, name));
      if (stats === undefined) continue;
      if (stats.isDirectory()) {
        await this.inDir(dir, [name], false, (child) => this.clear(child, depth + 1));
        await ignoreMissing(rmdir(at(dir, name)));
      } else {
        await ignoreMissing(unlink(at(dir, name)));
      }
    }
  }

  /** Lists what to archive, depth first in name order, counting tar bytes as it goes. */
  private async collect(
    dir: Dir,
    prefix: readonly string[],
    out: ArchiveEntry[],
    budget: { left: number },
  ): Promise<void> {
    if (prefix.length >= MAX_TREE_DEPTH) {
      throw new SandboxError(
        'path_invalid',
        `${shown(dir.segments)} is nested deeper than ${MAX_TREE_DEPTH} levels`,
      );
    }
    for (const name of (await readdir(dir.base)).sort(byName)) {
      const stats = await lstatOrNothing(at(dir, name));
      if (stats === undefined) continue;
      const segments = [...prefix, name];
      const type = entryType(stats);
      if (type === 'other') continue;
      let linkname = '';
      if (type === 'symlink') {
        try {
          linkname = await readlink(at(dir, name));
        } catch (error: unknown) {
          if (vanished(error)) continue;
          throw error;
        }
      }
      const entry: ArchiveEntry = {
        type,
        segments,
        linkname,
        mode: stats.mode & PERMISSION_BITS,
        mtime: stats.mtime,
      };
      budget.left -= tarEntryBytes(archiveName(entry), linkname, type === 'file' ? stats.size : 0);
      if (budget.left < 0) {
        throw new SandboxError(
          'file_too_large',
          `the archive would exceed ${this.limits.maxArchiveBytes} bytes`,
        );
      }
      out.push(entry);
      if (type === 'directory') {
        try {
          await this.inDir(dir, [name], false, (child) => this.collect(child, segments, out, budget));
        } catch (error: unknown) {
          if (!vanished(error)) throw error;
        }
      }
    }
  }

  /** Writes the listed entries into the tar stream, as they are now; what vanished meanwhile is skipped. */
  private async fill(dir: Dir, entries: readonly ArchiveEntry[], pack: Pack): Promise<void> {
    const budget = { left: this.limits.maxArchiveBytes - TAR_END };
    for (const entry of entries) {
      if (pack.destroying) return;
      const name = archiveName(entry);
      switch (entry.type) {
        case 'directory':
          budget.left -= tarEntryBytes(name, '', 0);
          this.checkBudget(budget);
          await packed(pack, { name, type: 'directory', mode: entry.mode, mtime: entry.mtime });
          break;
        case 'symlink':
          budget.left -= tarEntryBytes(name, entry.linkname, 0);
          this.checkBudget(budget);
          await packed(pack, {
            name,
            type: 'symlink',
            linkname: entry.linkname,
            mode: entry.mode,
            mtime: entry.mtime,
          });
          break;
        case 'file':
          try {
            await this.inDir(dir, entry.segments.slice(0, -1), false, (parent) =>
              this.packFile(parent, entry, pack, budget),
            );
          } catch (error: unknown) {
            if (!vanished(error)) throw error;
          }
          break;
      }
    }
  }

  private checkBudget(budget: { left: number }): void {
    if (budget.left < 0) {
      throw new SandboxError('file_too_large', `the archive grew past ${this.limits.maxArchiveBytes} bytes`);
    }
  }

  private async packFile(
    parent: Dir,
    entry: ArchiveEntry,
    pack: Pack,
    budget: { left: number },
  ): Promise<void> {
    const name = archiveName(entry);
    const handle = await this.openFile(parent, entry.segments.at(-1) ?? '', O_RDONLY);
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) return;
      budget.left -= tarEntryBytes(name, '', stats.size);
      this.checkBudget(budget);
      await packOpenFile(
        pack,
        handle,
        stats,
        name,
        (shrunk) => new Error(`${shrunk} shrank while it was archived`),
      );
    } finally {
      await handle.close();
    }
  }

  private async unpack(staging: Dir, tar: Readable): Promise<Staged> {
    const extract = tarExtract();
    const limiter = new ByteLimit(
      this.limits.maxArchiveBytes,
      (limit) => new SandboxError('file_too_large', `the archive is larger than ${limit} bytes`),
    );
    const fail = (error: Error): void => {
      extract.destroy(error);
    };
    tar.on('error', fail);
    limiter.on('error', fail);
    tar.pipe(limiter).pipe(extract);
    const state: Staged = { files: 0, bytes: 0, directories: [] };
    const members = extract[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await members.next().catch((error: unknown) => {
          throw malformed(error);
        });
        if (next.done === true) return state;
        await this.unpackMember(staging, next.value, state);
      }
    } finally {
      tar.off('error', fail);
      limiter.off('error', fail);
      tar.unpipe(limiter);
      limiter.unpipe();
      extract.destroy();
    }
  }

  private async unpackMember(staging: Dir, member: TarEntry, state: Staged): Promise<void> {
    const { header } = member;
    const segments = memberPath(header.name);
    const name = segments.at(-1);
    if (name === undefined) {
      // `./`, the destination itself, as `tar -C dir .` writes it.
      if (header.type === 'directory') return drain(member);
      throw archiveInvalid(`${shownEntry(header.name)} names the destination itself`);
    }
    const parent = segments.slice(0, -1);
    switch (header.type) {
      case 'directory':
        await this.inStaging(staging, segments, header.name, () => Promise.resolve());
        state.directories.push({ segments, mode: header.mode & PERMISSION_BITS, mtime: header.mtime });
        return drain(member);
      case 'file':
      case 'contiguous-file':
        if (state.bytes + header.size > this.limits.maxArchiveBytes) {
          throw new SandboxError(
            'file_too_large',
            `the archive holds more than ${this.limits.maxArchiveBytes} bytes`,
          );
        }
        await this.inStaging(staging, parent, header.name, (dir) => this.unpackFile(dir, name, member));
        state.files += 1;
        state.bytes += header.size;
        return;
      case 'symlink':
        checkLinkTarget(header.name, segments, header.linkname);
        await this.inStaging(staging, parent, header.name, async (dir) => {
          await this.vacate(dir, name, header.name);
          await symlink(header.linkname, at(dir, name));
        });
        return drain(member);
      case 'link':
        throw archiveInvalid(`${shownEntry(header.name)} is a hard link`);
      case 'block-device':
      case 'character-device':
      case 'fifo':
        throw archiveInvalid(`${shownEntry(header.name)} is a device or a fifo`);
      default:
        // tar-stream hands unknown type flags on as null.
        throw archiveInvalid(`${shownEntry(header.name)} has an unsupported type`);
    }
  }

  /** Opens (creating) a directory of the staging tree; a member passing through a file or symlink is refused. */
  private async inStaging<T>(
    staging: Dir,
    segments: readonly string[],
    member: string,
    use: (dir: Dir) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.inDir(staging, segments, true, use);
    } catch (error: unknown) {
      if (error instanceof SandboxError && error.code.startsWith('path_')) {
        throw archiveInvalid(`${shownEntry(member)} passes through a file or a symlink`, error);
      }
      throw error;
    }
  }

  /** Makes room for a member: an earlier member of the same name is replaced, a directory is not. */
  private async vacate(dir: Dir, name: string, member: string): Promise<void> {
    const existing = await lstatOrNothing(at(dir, name));
    if (existing === undefined) return;
    if (existing.isDirectory()) throw archiveInvalid(`${shownEntry(member)} would replace a directory`);
    await ignoreMissing(unlink(at(dir, name)));
  }

  private async unpackFile(dir: Dir, name: string, member: TarEntry): Promise<void> {
    const { header } = member;
    await this.vacate(dir, name, header.name);
    const handle = await this.openFile(dir, name, O_WRONLY | O_CREAT | O_EXCL, 0o600);
    try {
      let written = 0;
      for await (const chunk of contentOf(member)) {
        await writeAll(handle, chunk);
        written += chunk.length;
      }
      if (written !== header.size) throw archiveInvalid(`${shownEntry(header.name)} is cut short`);
      await handle.chmod(header.mode & PERMISSION_BITS);
      if (!Number.isNaN(header.mtime.getTime())) await handle.utimes(header.mtime, header.mtime);
    } finally {
      await handle.close();
    }
  }

  /** Refuses, before anything moves, a member whose place in the destination is a directory on one side only. */
  private async checkMerge(staging: Dir, dest: Dir, prefix: readonly string[]): Promise<void> {
    for (const name of await readdir(staging.base)) {
      const there = await lstatOrNothing(at(dest, name));
      if (there === undefined) continue;
      const member = [...prefix, name].join('/');
      const staged = await lstat(at(staging, name));
      if (staged.isDirectory() && there.isDirectory()) {
        await this.inDir(staging, [name], false, (stagedDir) =>
          this.inDir(dest, [name], false, (destDir) =>
            this.checkMerge(stagedDir, destDir, [...prefix, name]),
          ),
        );
      } else if (staged.isDirectory()) {
        throw archiveInvalid(`${shownEntry(member)} is a directory in the archive but not in the workspace`);
      } else if (there.isDirectory()) {
        throw archiveInvalid(`${shownEntry(member)} would replace a directory of the workspace`);
      }
    }
  }

  /** Moves staged members in: directories present on both sides are merged, anything else renamed over. */
  private async merge(staging: Dir, dest: Dir): Promise<void> {
    for (const name of await readdir(staging.base)) {
      const staged = await lstat(at(staging, name));
      const there = await lstatOrNothing(at(dest, name));
      if (staged.isDirectory() && there?.isDirectory() === true) {
        await this.inDir(staging, [name], false, (stagedDir) =>
          this.inDir(dest, [name], false, (destDir) => this.merge(stagedDir, destDir)),
        );
      } else {
        await rename(at(staging, name), at(dest, name));
      }
    }
  }

  /** Directory modes and times from the archive, set last (deepest first) so they hold after the moves. */
  private async applyDirectoryModes(dest: Dir, directories: readonly StagedDirectory[]): Promise<void> {
    for (const directory of [...directories].reverse()) {
      try {
        await this.inDir(dest, directory.segments, false, async (dir) => {
          await dir.handle.chmod(directory.mode);
          if (!Number.isNaN(directory.mtime.getTime())) {
            await dir.handle.utimes(directory.mtime, directory.mtime);
          }
        });
      } catch (error: unknown) {
        if (!vanished(error)) throw error;
      }
    }
  }

  /** Removes the staging directory with whatever is left in it; a failure here must not hide the outcome. */
  private async discard(dest: Dir, stagingName: string): Promise<void> {
    try {
      await this.inDir(dest, [stagingName], false, (staging) => this.clear(staging, 1));
      await rmdir(at(dest, stagingName));
    } catch {
      // Left for the sandbox's own cleanup: it is a hidden directory of the workspace, nothing outside.
    }
  }
}
