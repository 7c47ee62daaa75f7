import { realpathSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, normalize } from 'node:path';

import { SandboxError } from '../errors/sandbox.error.js';

/** Never mounted or copied, nor anything under or above them, whatever the roots allow. */
const SYSTEM_PATHS = ['/proc', '/sys', '/dev', '/etc', '/boot', '/root'] as const;
/** Where Docker's socket usually is; the configured one is added. */
const DOCKER_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock'] as const;
const CONTROL = /\p{Cc}/u;

export interface HostPathPolicyOptions {
  /** `SANDBOX_MOUNT_ROOTS`: absolute host directories sources must lie in; none refuses every source. */
  readonly roots: readonly string[];
  /** The service's own paths (its data dir, the Docker socket): refused like the system's. */
  readonly protectedPaths: readonly string[];
}

export type HostSourceKind = 'directory' | 'file';

export interface HostSource {
  /** The real path: absolute, without symlinks; what is bound or copied. */
  readonly real: string;
  readonly kind: HostSourceKind;
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** `inner` is `outer` or lies below it (both absolute and normalized). */
function within(outer: string, inner: string): boolean {
  return inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
}

/** The path as given and, when it resolves, its real path: a rule on one applies to the other too. */
function withRealPath(path: string): string[] {
  const plain = normalize(path);
  try {
    const real = realpathSync.native(plain);
    return real === plain ? [plain] : [plain, real];
  } catch {
    return [plain];
  }
}

/**
 * Which host paths a sandbox's `mounts` and `copies` may name: only paths under the configured roots, and
 * never the system's directories, the Docker socket or the service's own data (every sandbox's directory,
 * the database) — neither those paths, nor anything under them, nor anything above them (a directory holding
 * one). Judged on the real path, so a symlink inside a root cannot lead out of it.
 */
export class HostPathPolicy {
  private readonly roots: readonly string[];
  private readonly denied: readonly string[];

  constructor(options: HostPathPolicyOptions) {
    this.roots = options.roots.flatMap(withRealPath);
    this.denied = [...SYSTEM_PATHS, ...DOCKER_SOCKETS, ...options.protectedPaths].flatMap(withRealPath);
  }

  /**
   * The source a spec names, checked and resolved: 403 `mount_not_allowed` when it may not be used, 400
   * `mount_source_invalid` when it is missing or not of a kind `kinds` allows. Nothing outside the roots is
   * looked at on disk, so a refusal says nothing of what exists there.
   */
  async resolve(source: string, what: string, kinds: readonly HostSourceKind[]): Promise<HostSource> {
    if (this.roots.length === 0) {
      throw new SandboxError(
        'mount_not_allowed',
        `${what}: this service mounts and copies no host paths (SANDBOX_MOUNT_ROOTS is empty)`,
      );
    }
    if (!isAbsolute(source) || CONTROL.test(source)) {
      throw new SandboxError('mount_not_allowed', `${what}: the source must be an absolute host path`);
    }
    if (source.split('/').includes('..')) {
      throw new SandboxError('mount_not_allowed', `${what}: the source may not contain ".."`);
    }
    const given = normalize(source);
    this.check(given, what);
    let real: string;
    try {
      real = await realpath(given);
    } catch (error: unknown) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new SandboxError('mount_source_invalid', `${what}: ${source} does not exist`, { cause: error });
      }
      throw new SandboxError('mount_not_allowed', `${what}: ${source} cannot be resolved`, { cause: error });
    }
    if (real !== given) this.check(real, what, source);
    const stats = await stat(real);
    const kind: HostSourceKind | undefined = stats.isDirectory()
      ? 'directory'
      : stats.isFile()
        ? 'file'
        : undefined;
    if (kind === undefined || !kinds.includes(kind)) {
      throw new SandboxError('mount_source_invalid', `${what}: ${source} is not a ${kinds.join(' or a ')}`);
    }
    return { real, kind };
  }

  /** Whether the real path a sandbox stored is still allowed (the roots may have changed since a restart). */
  allows(real: string): boolean {
    return this.roots.some((root) => within(root, real)) && !this.isDenied(real);
  }

  private check(path: string, what: string, givenAs?: string): void {
    const shown = givenAs === undefined ? path : `${givenAs} (a link)`;
    if (!this.roots.some((root) => within(root, path))) {
      throw new SandboxError(
        'mount_not_allowed',
        givenAs === undefined
          ? `${what}: ${shown} is not under SANDBOX_MOUNT_ROOTS`
          : `${what}: ${shown} leads outside SANDBOX_MOUNT_ROOTS`,
      );
    }
    if (this.isDenied(path)) {
      throw new SandboxError(
        'mount_not_allowed',
        `${what}: ${shown} is, holds or lies in a protected host path (system directories, the Docker socket, the service's data)`,
      );
    }
  }

  private isDenied(path: string): boolean {
    return path === '/' || this.denied.some((denied) => within(denied, path) || within(path, denied));
  }
}
