import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { pack as tarPack } from 'tar-stream';

import { PlatformError } from '@aibox/platform';

import { CREDENTIAL_FILES_DIR, credentialFilePath, type SandboxSpecBody } from '../dtos/sandbox.dto.js';
import { SandboxError } from '../errors/sandbox.error.js';
import type { RuntimeBind } from '../runtimes/sandbox-runtime.js';
import { compileExcludes, CopyFailed, CopyTooLarge, HostTreeCopy, type CopyReport } from './host-copy.js';
import type { HostPathPolicy, HostSourceKind } from './host-paths.js';
import type { SandboxDirs } from './sandbox-dirs.js';
import type { FileOwner, WorkspaceFiles } from './workspace-files.js';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY } = constants;

/** A host directory bound into the sandbox, as stored with its spec. */
export interface SandboxMount {
  /** The real path checked when the sandbox was accepted. */
  readonly source: string;
  /** `/mnt/…` inside. */
  readonly target: string;
  readonly writable: boolean;
}

/** A host file or directory copied into the workspace by MountLocalDirs, as stored with its spec. */
export interface SandboxCopy {
  /** The real path checked when the sandbox was accepted. */
  readonly source: string;
  readonly kind: HostSourceKind;
  /** `/workspace/…`: the directory a directory's contents go into, or the file a file becomes. */
  readonly target: string;
  readonly exclude: readonly string[];
}

/** A credential to write as a file: its value, and its name under `/run/secrets`. */
export interface CredentialFile {
  readonly name: string;
  readonly value: string;
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${String(count)} ${count === 1 ? one : many}`;
}

/** Host content bound or copied in, and credential files: the inputs MountLocalDirs and InjectCredentials bring. */
export class ProvisioningInputs {
  constructor(
    private readonly policy: HostPathPolicy,
    private readonly dirs: SandboxDirs,
    private readonly files: WorkspaceFiles,
    private readonly copyMaxBytes: number,
  ) {}

  /** A spec's mounts, each source checked and resolved to its real path (403 / 400 when refused). */
  async acceptMounts(mounts: SandboxSpecBody['mounts']): Promise<SandboxMount[]> {
    const accepted: SandboxMount[] = [];
    for (const mount of mounts ?? []) {
      const source = await this.policy.resolve(mount.source, `mount ${mount.target}`, ['directory']);
      accepted.push({ source: source.real, target: mount.target, writable: mount.writable === true });
    }
    return accepted;
  }

  /** A spec's copies: sources checked and resolved, targets confined to the workspace, excludes compiled. */
  async acceptCopies(copies: SandboxSpecBody['copies']): Promise<SandboxCopy[]> {
    const accepted: SandboxCopy[] = [];
    for (const copy of copies ?? []) {
      const segments = this.files.resolve(copy.target);
      const target = ['/workspace', ...segments].join('/');
      const exclude = copy.exclude ?? [];
      try {
        compileExcludes(exclude);
      } catch (error: unknown) {
        throw new PlatformError('invalid_request', {
          detail: `copy to ${target}: an exclude pattern is not a valid glob (${messageOf(error)})`,
        });
      }
      const source = await this.policy.resolve(copy.source, `copy to ${target}`, ['directory', 'file']);
      if (source.kind === 'file' && segments.length === 0) {
        throw new SandboxError(
          'path_invalid',
          `copy of ${copy.source}: a file needs a file name as its target`,
        );
      }
      accepted.push({ source: source.real, kind: source.kind, target, exclude });
    }
    return accepted;
  }

  /**
   * Refuses a mount the policy no longer allows (its roots changed since the sandbox was accepted); each
   * exec passes here before it starts.
   */
  checkMounts(mounts: readonly SandboxMount[]): void {
    for (const mount of mounts) {
      if (!this.policy.allows(mount.source)) {
        throw new SandboxError(
          'mount_not_allowed',
          `mount ${mount.target}: ${mount.source} is no longer allowed by SANDBOX_MOUNT_ROOTS`,
        );
      }
    }
  }

  /** What the runtime binds: the mounts, then the credential files' directory when there are any. */
  binds(
    id: string,
    mounts: readonly SandboxMount[],
    credentials: readonly { as_file?: string }[],
  ): RuntimeBind[] {
    const binds: RuntimeBind[] = mounts.map((mount) => ({
      source: mount.source,
      target: mount.target,
      writable: mount.writable,
      origin: 'host',
    }));
    if (credentials.some((credential) => credential.as_file !== undefined)) {
      binds.push({
        source: this.dirs.secrets(id),
        target: CREDENTIAL_FILES_DIR,
        writable: false,
        origin: 'service',
      });
    }
    return binds;
  }

  /**
   * MountLocalDirs: every mount's source resolved again, and refused unless it is still the directory
   * accepted (a symlink swapped in since does not win); then the copies, into the workspace. The message
   * names what was bound and copied.
   */
  async mountLocalDirs(
    mounts: readonly SandboxMount[],
    copies: readonly SandboxCopy[],
    workspaceDir: string,
    owner: FileOwner | undefined,
  ): Promise<string> {
    for (const mount of mounts) await this.recheck(mount.source, `mount ${mount.target}`, 'directory');
    const parts: string[] = [];
    if (mounts.length > 0) {
      parts.push(
        `bound ${mounts.map((mount) => `${mount.target} (${mount.writable ? 'writable' : 'read-only'})`).join(', ')}`,
      );
    }
    let left = this.copyMaxBytes;
    for (const copy of copies) {
      await this.recheck(copy.source, `copy to ${copy.target}`, copy.kind);
      const report = await this.copy(copy, workspaceDir, owner, left);
      left -= report.bytes;
      parts.push(describeCopy(copy, report));
    }
    return parts.join('; ');
  }

  /** Creates the (empty) directory of the sandbox's credential files, given to the programs' user. */
  async prepareCredentialFiles(id: string, uid: number | undefined): Promise<void> {
    const dir = this.dirs.secrets(id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stats = await lstat(dir);
    if (!stats.isDirectory()) throw new Error(`${dir} is not a directory`);
    await chmod(dir, 0o700);
    if (uid !== undefined) await chown(dir, uid, uid);
  }

  /**
   * Writes each credential's value to its file (mode 0400, the programs' user's), replacing what was there.
   * The directory is outside the workspace, so neither the files API nor an archive can reach it.
   */
  async writeCredentialFiles(
    id: string,
    files: readonly CredentialFile[],
    uid: number | undefined,
  ): Promise<void> {
    await this.prepareCredentialFiles(id, uid);
    await this.clearCredentialFiles(id);
    const dir = this.dirs.secrets(id);
    for (const file of files) {
      // O_EXCL never opens what is there, a link included; the sandbox sees the directory read-only anyway.
      const handle = await open(join(dir, file.name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o400);
      try {
        await handle.writeFile(file.value);
        await handle.chmod(0o400);
        if (uid !== undefined) await handle.chown(uid, uid);
      } finally {
        await handle.close();
      }
    }
  }

  /** Removes the sandbox's credential files (stop, teardown); the empty directory stays for its binds. */
  async clearCredentialFiles(id: string): Promise<void> {
    const dir = this.dirs.secrets(id);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error: unknown) {
      if (errnoOf(error) === 'ENOENT') return;
      throw error;
    }
    await Promise.all(names.map((name) => rm(join(dir, name), { force: true, recursive: true })));
  }

  /** The file name of a credential's `as_file` in the sandbox's credential directory. */
  static fileName(asFile: string): string {
    return credentialFilePath(asFile).slice(CREDENTIAL_FILES_DIR.length + 1);
  }

  private async recheck(source: string, what: string, kind: HostSourceKind): Promise<void> {
    const now = await this.policy.resolve(source, what, [kind]);
    if (now.real !== source) {
      throw new SandboxError(
        'mount_not_allowed',
        `${what}: ${source} no longer leads to the directory that was checked (a symlink or a move changed it)`,
      );
    }
  }

  private async copy(
    copy: SandboxCopy,
    workspaceDir: string,
    owner: FileOwner | undefined,
    maxBytes: number,
  ): Promise<CopyReport> {
    const segments = this.files.resolve(copy.target);
    const into = copy.kind === 'directory' ? segments : segments.slice(0, -1);
    const intoPath = into.join('/');
    try {
      await this.files.makeDirectory(workspaceDir, intoPath, owner);
    } catch (error: unknown) {
      throw new CopyFailed(`copy to ${copy.target}: ${messageOf(error)}`);
    }
    const tree = new HostTreeCopy(copy.source, copy.kind, {
      exclude: copy.exclude,
      maxBytes,
      limitBytes: this.copyMaxBytes,
      fileName: segments.at(-1) ?? '',
    });
    const pack = tarPack();
    let first: 'producer' | 'extract' | undefined;
    const producing = tree.packInto(pack).then(
      (report) => {
        pack.finalize();
        return report;
      },
      (error: unknown) => {
        first ??= 'producer';
        pack.destroy(error instanceof Error ? error : new Error('the copy failed'));
        throw error;
      },
    );
    const extracting = this.files
      .extract(workspaceDir, intoPath, Readable.from(pack, { objectMode: false }))
      .catch((error: unknown) => {
        first ??= 'extract';
        // A producer waiting for the stream to drain is released.
        pack.destroy();
        throw error;
      });
    const [produced, extracted] = await Promise.allSettled([producing, extracting]);
    if (produced.status === 'rejected' && first === 'producer') throw copyError(copy, produced.reason);
    if (extracted.status === 'rejected') {
      throw new CopyFailed(`copy to ${copy.target}: ${messageOf(extracted.reason)}`);
    }
    if (produced.status === 'rejected') throw copyError(copy, produced.reason);
    if (owner !== undefined) {
      await this.files.chownTree(workspaceDir, copy.target, owner);
    }
    return produced.value;
  }
}

/** What a failed copy reports: its own refusals as they are, a failure to read the host as `copy_failed`. */
function copyError(copy: SandboxCopy, error: unknown): unknown {
  if (error instanceof CopyTooLarge || error instanceof CopyFailed || error instanceof SandboxError) {
    return error;
  }
  if (errnoOf(error) !== undefined) {
    return new CopyFailed(`copy to ${copy.target}: cannot read ${copy.source} (${messageOf(error)})`);
  }
  return error;
}

function describeCopy(copy: SandboxCopy, report: CopyReport): string {
  const what =
    copy.kind === 'file'
      ? `copied ${copy.source} to ${copy.target}`
      : `copied ${plural(report.files, 'file')}, ${plural(report.directories, 'directory', 'directories')} and ${plural(report.symlinks, 'symlink')} (${String(report.bytes)} bytes) into ${copy.target}`;
  const notes: string[] = [];
  if (report.excluded > 0) notes.push(`${plural(report.excluded, 'entry', 'entries')} excluded`);
  if (report.skippedLinkCount > 0) {
    const more = report.skippedLinkCount - report.skippedLinks.length;
    notes.push(
      `${plural(report.skippedLinkCount, 'symlink')} leading out of the tree left out (${report.skippedLinks.join(', ')}${more > 0 ? `, ${String(more)} more` : ''})`,
    );
  }
  if (report.skippedSpecial > 0) {
    notes.push(
      `${plural(report.skippedSpecial, 'socket, fifo or device', 'sockets, fifos or devices')} left out`,
    );
  }
  return notes.length === 0 ? what : `${what}, ${notes.join(', ')}`;
}
