import { randomBytes } from 'node:crypto';
import { chmod, lchown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { clone, currentBranch, Errors, resolveRef } from 'isomorphic-git';

import type { Logger } from '@aibox/platform';

import { isWorkspacePath, type GitRepoBody } from '../dtos/sandbox.dto.js';
import { SandboxError } from '../errors/sandbox.error.js';
import type { RuntimeName } from '../runtimes/sandbox-runtime.js';
import { CheckoutTooLarge, ConfinedGitFs, UnsafeRepositoryPath } from './git-fs.js';
import {
  GitHttp,
  GitRemotePolicy,
  GitRemoteRefused,
  shownUrl,
  type GitHost,
  type HostResolver,
} from './git-remote.js';
import type { SandboxDirs } from './sandbox-dirs.js';
import type { WorkspaceFiles } from './workspace-files.js';

/** A repository to clone, as the stored spec holds it (defaults applied; a credential by id only). */
export interface GitRepoSpec {
  readonly url: string;
  /** null: the remote's HEAD. */
  readonly branch: string | null;
  /** null: the whole history. */
  readonly depth: number | null;
  /** Relative to the workspace. */
  readonly dest: string;
  readonly credential: string | null;
  /** The HTTP user name sent with the credential; null: {@link DEFAULT_GIT_USERNAME}. */
  readonly username: string | null;
}

export interface GitCloneSettings {
  /** `SANDBOX_GIT_ALLOWED_HOSTS`; empty: any host whose addresses are all public. */
  readonly allowedHosts: readonly GitHost[];
  /** `SANDBOX_GIT_MAX_BYTES`: bytes one clone may receive, and bytes it may write. */
  readonly maxBytes: number;
  /** `SANDBOX_GIT_CLONE_TIMEOUT_S`: one repository's clone. */
  readonly timeoutS: number;
}

/** Decrypts the owner's credentials (the credential store), as the pipeline's other steps do. */
export interface GitCredentials {
  resolveForSandbox(
    tenantId: string,
    userId: string,
    ids: readonly string[],
  ): Promise<readonly { id: string; value: string }[]>;
}

export interface CloneRequest {
  readonly tenantId: string;
  /** The sandbox's owner: only their credentials are used. */
  readonly userId: string;
  readonly sandboxId: string;
  readonly workspaceDir: string;
  readonly runtime: RuntimeName;
  readonly repos: readonly GitRepoSpec[];
  /** The pipeline's deadline; its abort is passed on as it is. */
  readonly signal: AbortSignal;
}

export interface ClonedRepository {
  readonly url: string;
  /** As the sandbox sees it, `/workspace/…`. */
  readonly path: string;
  /** null when the remote's HEAD is detached. */
  readonly branch: string | null;
  /** null for an empty repository. */
  readonly commit: string | null;
}

/** A clone that failed, with the code the sandbox fails with; the message names the URL and the cause. */
export class GitCloneFailure extends Error {
  override readonly name = 'GitCloneFailure';

  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** GitHub's convention for a token as a password; GitLab, Gitea and Bitbucket take any name with a token. */
export const DEFAULT_GIT_USERNAME = 'x-access-token';
const USER_AGENT = 'git/isomorphic-git (aibox code-sandbox)';
/** Who owns the files of a `docker` or `gvisor` sandbox: the container runs as this host uid. */
const CONTAINER_UID = 1000;
const SHORT_SHA = 7;
/** Codes of a connection that failed: refused, reset, unreachable, timed out, TLS, a malformed answer. */
const NETWORK_ERROR =
  /^(ECONN|EHOST|ENET|EAI_|ENOTFOUND$|ETIMEDOUT$|EPIPE$|EPROTO$|ERR_TLS|ERR_SSL|HPE_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_STREAM_PREMATURE_CLOSE$)/;

/** The name `git clone` would give the directory: the URL's last path segment without `.git`, else its host. */
export function defaultDest(url: URL): string {
  const segments = url.pathname.split('/').filter((segment) => segment !== '');
  if (segments.at(-1) === '.git') segments.pop();
  const last = segments.at(-1)?.replace(/\.git$/, '') ?? '';
  return last === '' ? url.hostname.replace(/^\[|\]$/g, '').replaceAll(':', '-') : last;
}

/** `cloned <url> (<branch>) at <sha> into <path>` for each, as the step's message. */
export function describeClones(cloned: readonly ClonedRepository[]): string {
  return cloned
    .map(
      (repo) =>
        `cloned ${repo.url} (${repo.branch ?? 'detached HEAD'}) ${repo.commit === null ? 'empty' : `at ${repo.commit.slice(0, SHORT_SHA)}`} into ${repo.path}`,
    )
    .join('; ');
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  // lstat and lchown: a link is given away as a link, and never descended into.
  const stats = await lstat(path);
  await lchown(path, uid, gid);
  if (!stats.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid, gid);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The CloneRepositories step: each repository cloned on the host (sandboxes have no network) with
 * isomorphic-git, into a staging directory beside the workspace, then moved to its place in the workspace.
 * The rules for remotes are {@link GitRemotePolicy}'s, applied on every request; a credential's value is the
 * HTTP password for its repository's origin only, and appears nowhere else: not in the URL (so not in
 * `.git/config`), not in events, messages or logs.
 */
export class RepositoryCloner {
  private readonly policy: GitRemotePolicy;

  constructor(
    private readonly settings: GitCloneSettings,
    private readonly files: WorkspaceFiles,
    private readonly dirs: SandboxDirs,
    private readonly credentials: GitCredentials,
    private readonly logger: Logger,
    resolveHost?: HostResolver,
  ) {
    this.policy = new GitRemotePolicy(settings.allowedHosts, resolveHost);
  }

  /** A spec's `git_repos` with defaults applied; a URL the policy refuses outright is `git_url_refused`. */
  accept(repos: readonly GitRepoBody[]): GitRepoSpec[] {
    return repos.map((repo) => {
      const url = new URL(repo.url.replace(/\/+$/, ''));
      const refused = this.policy.refusal(url);
      if (refused !== undefined) throw new SandboxError('git_url_refused', `${shownUrl(url)}: ${refused}`);
      const dest = repo.dest ?? defaultDest(url);
      if (!isWorkspacePath(dest)) {
        throw new SandboxError('path_invalid', `no directory name follows from ${shownUrl(url)}; give dest`);
      }
      return {
        url: url.href.replace(/\/+$/, ''),
        branch: repo.branch ?? null,
        depth: repo.depth ?? null,
        dest,
        credential: repo.credential ?? null,
        username: repo.username ?? null,
      };
    });
  }

  /** Clones every repository in order; the first failure stops the rest. */
  async clone(request: CloneRequest): Promise<ClonedRepository[]> {
    const tokens = await this.tokens(request);
    const staging = this.dirs.gitStaging(request.sandboxId);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      const cloned: ClonedRepository[] = [];
      for (const repo of request.repos) {
        cloned.push(await this.cloneOne(request, repo, tokens, staging));
      }
      return cloned;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** The credentials' values, looked up by the sandbox's owner: another user's id is `credential_unknown`. */
  private async tokens(request: CloneRequest): Promise<ReadonlyMap<string, string>> {
    const ids = [
      ...new Set(request.repos.flatMap((repo) => (repo.credential === null ? [] : [repo.credential]))),
    ];
    if (ids.length === 0) return new Map();
    try {
      const resolved = await this.credentials.resolveForSandbox(request.tenantId, request.userId, ids);
      return new Map(resolved.map((credential) => [credential.id, credential.value]));
    } catch (error: unknown) {
      throw new GitCloneFailure(
        errorCode(error) ?? 'credential_unknown',
        error instanceof Error ? error.message : 'a credential cannot be used',
      );
    }
  }

  private async cloneOne(
    request: CloneRequest,
    repo: GitRepoSpec,
    tokens: ReadonlyMap<string, string>,
    staging: string,
  ): Promise<ClonedRepository> {
    const url = new URL(repo.url);
    const token = repo.credential === null ? undefined : tokens.get(repo.credential);
    const username = repo.username ?? DEFAULT_GIT_USERNAME;
    const basic = token === undefined ? null : Buffer.from(`${username}:${token}`).toString('base64');
    const secrets = token === undefined ? [] : [token, encodeURIComponent(token), basic ?? ''];
    const scrub = (text: string): string =>
      secrets.reduce((clean, secret) => (secret === '' ? clean : clean.replaceAll(secret, '***')), text);
    const timeout = AbortSignal.timeout(this.settings.timeoutS * 1000);
    const signal = AbortSignal.any([request.signal, timeout]);
    const dir = join(staging, randomBytes(8).toString('hex'));
    await mkdir(dir, { mode: 0o700 });
    const owner = request.runtime === 'process' ? undefined : { uid: CONTAINER_UID, gid: CONTAINER_UID };
    try {
      const fs = new ConfinedGitFs(dir, this.settings.maxBytes, signal);
      const http = new GitHttp({
        policy: this.policy,
        repository: url,
        authorization: basic === null ? null : `Basic ${basic}`,
        maxBytes: this.settings.maxBytes,
        signal,
      });
      await clone({
        fs,
        http,
        dir,
        // As stored: without a final slash, since the library appends `/info/refs` to it.
        url: repo.url,
        ...(repo.branch === null ? {} : { ref: repo.branch }),
        // As `git clone`: a shallow clone takes one branch, a full one every branch.
        singleBranch: repo.depth !== null,
        ...(repo.depth === null ? {} : { depth: repo.depth }),
        headers: { 'user-agent': USER_AGENT },
        cache: {},
      });
      const commit = await resolveRef({ fs, dir, ref: 'HEAD' }).catch(() => null);
      const branch = (await currentBranch({ fs, dir }).catch(() => undefined)) ?? null;
      signal.throwIfAborted();
      await chmod(dir, 0o755);
      // The process runtime's sandbox user is the service's own uid mapped; a container's is uid 1000.
      if (owner !== undefined) await chownTree(dir, owner.uid, owner.gid);
      const path = await this.files.moveIn(request.workspaceDir, repo.dest, dir, {
        ...(owner === undefined ? {} : { owner }),
      });
      return { url: shownUrl(url), path, branch, commit };
    } catch (error: unknown) {
      // The pipeline's own timeout is reported as that, by the pipeline.
      if (request.signal.aborted) throw error;
      throw new GitCloneFailure(
        'git_clone_failed',
        scrub(`${shownUrl(url)}: ${this.cause(error, repo, timeout.aborted, request.sandboxId, scrub)}`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Why a clone failed, for the caller: never a host path or a response body. */
  private cause(
    error: unknown,
    repo: GitRepoSpec,
    timedOut: boolean,
    sandboxId: string,
    scrub: (text: string) => string,
  ): string {
    if (timedOut) return `the clone took longer than ${this.settings.timeoutS} s`;
    if (
      error instanceof GitRemoteRefused ||
      error instanceof CheckoutTooLarge ||
      error instanceof UnsafeRepositoryPath
    ) {
      return error.message;
    }
    if (error instanceof SandboxError) return error.message.replace(/\.$/, '');
    if (error instanceof Errors.HttpError) {
      const { statusCode, statusMessage } = error.data;
      const hint =
        statusCode === 401 || statusCode === 403
          ? repo.credential === null
            ? ' (name a credential for a private repository)'
            : ' (the credential was refused)'
          : statusCode === 404
            ? ' (no such repository)'
            : '';
      return `the server answered ${statusCode} ${statusMessage}${hint}`;
    }
    if (error instanceof Errors.NotFoundError) {
      return repo.branch === null ? `${error.data.what} not found` : `no branch ${repo.branch} on the remote`;
    }
    if (error instanceof Errors.SmartHttpError) return 'the server does not speak git smart HTTP';
    if (error instanceof Errors.UnsafeFilepathError) return 'the repository holds an unsafe path';
    const code = errorCode(error);
    if (code !== undefined && NETWORK_ERROR.test(code))
      return `cannot reach ${new URL(repo.url).host} (${code})`;
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'the host is out of disk space';
    // Anything else is the service's problem: logged (without paths' secrets), not detailed to the caller.
    this.logger.error(
      {
        sandbox_id: sandboxId,
        err_name: error instanceof Error ? error.name : typeof error,
        err_code: code,
        err_message: error instanceof Error ? scrub(error.message) : undefined,
      },
      'a git clone failed unexpectedly',
    );
    return `the clone failed${code === undefined ? '' : ` (${code})`}`;
  }
}
