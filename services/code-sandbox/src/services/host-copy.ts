import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, type FileHandle } from 'node:fs/promises';

import { Minimatch, type MinimatchOptions } from 'minimatch';
import type { Pack } from 'tar-stream';

import { openHostSource } from '../runtimes/host-source.js';
import { packOpenFile } from './tar-pack.js';

const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = constants;

const PERMISSION_BITS = 0o777;
/** As deep as the workspace's own walks go. */
const MAX_DEPTH = 128;
/** Symlinks left out that a step's message names; the rest are counted. */
const SHOWN_SKIPPED = 5;

/**
 * How `exclude` patterns match: `*`, `**`, `?`, `[…]` and `{a,b}` globs, dotfiles included, against the path
 * relative to the copy's source (`src/app.ts`); a pattern without a `/` also matches a name at any depth
 * (`*.log`, `node_modules`). No negation, no comments: every pattern excludes.
 */
const EXCLUDE_OPTIONS: MinimatchOptions = {
  dot: true,
  matchBase: true,
  nonegate: true,
  nocomment: true,
  braceExpandMax: 1_000,
};

/** The copy broke `SANDBOX_COPY_MAX_BYTES`. */
export class CopyTooLarge extends Error {}

/** The source changed while it was copied, or holds something a copy cannot take. */
export class CopyFailed extends Error {}

export interface CopyReport {
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  /** Bytes of file content. */
  readonly bytes: number;
  /** Entries left out by `exclude`. */
  readonly excluded: number;
  /** Symlinks left out because they lead out of the copied tree (the first few, relative to the source). */
  readonly skippedLinks: readonly string[];
  readonly skippedLinkCount: number;
  /** Sockets, fifos and devices, never copied. */
  readonly skippedSpecial: number;
}

export interface CopyOptions {
  readonly exclude: readonly string[];
  /** What the copy may still add, in bytes of file content. */
  readonly maxBytes: number;
  /** `SANDBOX_COPY_MAX_BYTES`, which all of a sandbox's copies share; for the message. */
  readonly limitBytes: number;
  /** A file source's name in the tar stream (the last segment of its target). */
  readonly fileName: string;
}

/** Compiles `exclude` patterns; throws on a pattern the matcher refuses. */
export function compileExcludes(patterns: readonly string[]): Minimatch[] {
  return patterns.map((pattern) => new Minimatch(pattern, EXCLUDE_OPTIONS));
}

/**
 * A symlink is copied only when it stays inside the copied tree, judged by its text: relative, and never
 * climbing above the tree's root from where it sits (what `WorkspaceFiles.extract` takes as well).
 */
export function staysInside(parentDepth: number, target: string): boolean {
  if (target === '' || target.startsWith('/') || target.includes('\0')) return false;
  let depth = parentDepth;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return false;
  }
  return true;
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function gone(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
 * Writes a host file or directory tree into a tar stream for `WorkspaceFiles.extract`. The source is a real
 * path checked against the policy; it is opened so that a symlink swapped in since is refused, and the walk
 * below it opens one name at a time relative to the directory already open, never following a link, so
 * nothing the tree's owners do meanwhile can make it read outside the source. Symlinks that lead out of the
 * tree are left out (and reported); so are sockets, fifos and devices.
 */
export class HostTreeCopy {
  private readonly excludes: Minimatch[];
  private files = 0;
  private directories = 0;
  private symlinks = 0;
  private bytes = 0;
  private excluded = 0;
  private skippedSpecial = 0;
  private readonly skippedLinks: string[] = [];
  private skippedLinkCount = 0;

  constructor(
    private readonly source: string,
    private readonly kind: 'file' | 'directory',
    private readonly options: CopyOptions,
  ) {
    this.excludes = compileExcludes(options.exclude);
  }

  async packInto(pack: Pack): Promise<CopyReport> {
    const root = await openHostSource(this.source, this.kind === 'directory' ? 'directory' : 'any');
    try {
      if (this.kind === 'file') {
        const stats = await root.stat();
        if (!stats.isFile()) throw new CopyFailed(`${this.source} is no longer a regular file`);
        await this.packFile(pack, root, stats, this.options.fileName);
      } else {
        await this.walk(pack, `/proc/self/fd/${root.fd}`, [], 0);
      }
    } finally {
      await root.close();
    }
    return {
      files: this.files,
      directories: this.directories,
      symlinks: this.symlinks,
      bytes: this.bytes,
      excluded: this.excluded,
      skippedLinks: this.skippedLinks,
      skippedLinkCount: this.skippedLinkCount,
      skippedSpecial: this.skippedSpecial,
    };
  }

  private isExcluded(relative: string, directory: boolean): boolean {
    return this.excludes.some(
      (pattern) => pattern.match(relative) || (directory && pattern.match(`${relative}/`)),
    );
  }

  private async walk(pack: Pack, base: string, prefix: readonly string[], depth: number): Promise<void> {
    if (depth >= MAX_DEPTH) {
      throw new CopyFailed(`${prefix.join('/')} is nested deeper than ${MAX_DEPTH} levels`);
    }
    for (const name of (await readdir(base)).sort(byName)) {
      if (pack.destroying) return;
      const segments = [...prefix, name];
      const relative = segments.join('/');
      const at = `${base}/${name}`;
      let stats: Stats;
      try {
        stats = await lstat(at);
      } catch (error: unknown) {
        if (gone(error)) continue;
        throw error;
      }
      if (this.isExcluded(relative, stats.isDirectory())) {
        this.excluded += 1;
        continue;
      }
      if (stats.isDirectory()) {
        await this.packDirectory(pack, at, segments, stats, depth);
      } else if (stats.isFile()) {
        await this.packFileAt(pack, at, relative);
      } else if (stats.isSymbolicLink()) {
        await this.packSymlink(pack, at, segments, stats);
      } else {
        this.skippedSpecial += 1;
      }
    }
  }

  private async packDirectory(
    pack: Pack,
    at: string,
    segments: readonly string[],
    stats: Stats,
    depth: number,
  ): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (error: unknown) {
      if (gone(error)) return;
      throw error;
    }
    try {
      const held = await handle.stat();
      // Replaced between the look and the open: what is there now was not judged.
      if (held.dev !== stats.dev || held.ino !== stats.ino) return;
      await packed(pack, {
        name: `${segments.join('/')}/`,
        type: 'directory',
        mode: held.mode & PERMISSION_BITS,
        mtime: held.mtime,
      });
      this.directories += 1;
      await this.walk(pack, `/proc/self/fd/${handle.fd}`, segments, depth + 1);
    } finally {
      await handle.close();
    }
  }

  private async packFileAt(pack: Pack, at: string, relative: string): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(at, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (error: unknown) {
      if (gone(error)) return;
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) {
        this.skippedSpecial += 1;
        return;
      }
      await this.packFile(pack, handle, stats, relative);
    } finally {
      await handle.close();
    }
  }

  private async packFile(pack: Pack, handle: FileHandle, stats: Stats, name: string): Promise<void> {
    if (this.bytes + stats.size > this.options.maxBytes) {
      throw new CopyTooLarge(
        `${name} takes the sandbox's copies past SANDBOX_COPY_MAX_BYTES (${this.options.limitBytes} bytes)`,
      );
    }
    this.bytes += stats.size;
    await packOpenFile(
      pack,
      handle,
      stats,
      name,
      (shrunk) => new CopyFailed(`${shrunk} shrank while it was copied`),
    );
    this.files += 1;
  }

  private async packSymlink(
    pack: Pack,
    at: string,
    segments: readonly string[],
    stats: Stats,
  ): Promise<void> {
    let target: string;
    try {
      target = await readlink(at);
    } catch (error: unknown) {
      if (gone(error)) return;
      throw error;
    }
    if (!staysInside(segments.length - 1, target)) {
      this.skippedLinkCount += 1;
      if (this.skippedLinks.length < SHOWN_SKIPPED) this.skippedLinks.push(segments.join('/'));
      return;
    }
    await packed(pack, {
      name: segments.join('/'),
      type: 'symlink',
      linkname: target,
      mode: stats.mode & PERMISSION_BITS,
      mtime: stats.mtime,
    });
    this.symlinks += 1;
  }
}
