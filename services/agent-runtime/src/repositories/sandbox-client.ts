import { setTimeout as sleep } from 'node:timers/promises';

import type { KeySet, Principal } from '@aibox/identity';
import { principalHeaders } from '@aibox/platform';

/** Who calls code-sandbox: the turn's user, the turn, and its cap token (`sandbox:exec`, `sandbox:manage`). */
export interface SandboxCaller {
  readonly principal: Principal;
  readonly turnId: string;
  readonly capToken: string | undefined;
  readonly signal: AbortSignal;
}

export interface ExecResult {
  readonly id: string;
  readonly status: string;
  readonly exit_code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdout_truncated: boolean;
  readonly stderr_truncated: boolean;
}

/** One entry of a workspace directory listing (symlinks are listed with their target, never followed). */
export interface SandboxFileEntry {
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  /** Bytes of a file, length of a symlink's target, 0 for the rest. */
  readonly size: number;
  readonly modified_at: string;
  readonly link_target?: string;
}

export interface SandboxListing {
  /** The directory as the sandbox sees it, `/workspace/…`. */
  readonly path: string;
  readonly entries: readonly SandboxFileEntry[];
}

/** Bytes read from a workspace file, and the whole file's size. */
export interface SandboxFileSlice {
  readonly content: Buffer;
  readonly size: number;
}

/** code-sandbox answered with an error (its `code`), or could not be reached. */
export class SandboxCallError extends Error {
  override readonly name = 'SandboxCallError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** How long a new sandbox may take to become ready, and how often its state is read meanwhile. */
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;

/** code-sandbox over HTTP, as a chat turn's user: one sandbox per conversation, execs waited for. */
export class SandboxClient {
  constructor(
    private readonly baseUrl: string,
    private readonly principalKeys: KeySet,
  ) {}

  /**
   * The conversation's sandbox, created on first use (the conversation id is the `Idempotency-Key`, so two
   * tool calls at once get the same one), once it is ready.
   */
  async sandboxFor(caller: SandboxCaller, conversationId: string): Promise<string> {
    const created = await this.call(
      caller,
      'POST',
      '/sandboxes',
      { name: 'conversation', labels: { 'aibox.conversation': conversationId } },
      { 'idempotency-key': `conversation-${conversationId}` },
    );
    const id = String(created['id']);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (let state = String(created['state']); state !== 'ready';) {
      if (state === 'failed' || state === 'deleted' || state === 'deleting') {
        throw new SandboxCallError('sandbox_failed', `the conversation's sandbox is ${state}`);
      }
      if (Date.now() > deadline)
        throw new SandboxCallError('sandbox_timeout', 'the sandbox did not get ready');
      await sleep(READY_POLL_MS, undefined, { signal: caller.signal });
      const read = await this.call(caller, 'GET', `/sandboxes/${id}`);
      state = String(read['state']);
      if (state === 'stopped') await this.call(caller, 'POST', `/sandboxes/${id}/start`);
    }
    return id;
  }

  async exec(
    caller: SandboxCaller,
    sandboxId: string,
    body: { argv: readonly string[]; stdin?: string; timeout_s: number },
  ): Promise<ExecResult> {
    return (await this.call(
      caller,
      'POST',
      `/sandboxes/${sandboxId}/execs?wait=true`,
      body,
    )) as unknown as ExecResult;
  }

  async cancel(caller: SandboxCaller, sandboxId: string, execId: string): Promise<void> {
    await this.call(caller, 'POST', `/sandboxes/${sandboxId}/execs/${execId}/cancel`).catch(() => undefined);
  }

  /** A workspace directory (`/workspace` when `path` is empty). */
  async listFiles(caller: SandboxCaller, sandboxId: string, path: string): Promise<SandboxListing> {
    return (await this.call(
      caller,
      'GET',
      `/sandboxes/${sandboxId}/files?${new URLSearchParams({ path }).toString()}`,
    )) as unknown as SandboxListing;
  }

  /** A workspace file's bytes from `offset`, at most `length` of them (code-sandbox caps one read too). */
  async readFile(
    caller: SandboxCaller,
    sandboxId: string,
    path: string,
    options: { offset?: number; length?: number } = {},
  ): Promise<SandboxFileSlice> {
    const query = new URLSearchParams({ path });
    if (options.offset !== undefined) query.set('offset', String(options.offset));
    if (options.length !== undefined) query.set('length', String(options.length));
    const response = await this.send(
      caller,
      'GET',
      `/sandboxes/${sandboxId}/files/content?${query.toString()}`,
    );
    if (!response.ok) throw await callError(response);
    const content = Buffer.from(await response.arrayBuffer());
    const size = Number(response.headers.get('x-file-size'));
    return { content, size: Number.isSafeInteger(size) && size >= 0 ? size : content.length };
  }

  /** Writes a UTF-8 file (atomically), creating its parent directories; answers its path and size in bytes. */
  async writeFile(
    caller: SandboxCaller,
    sandboxId: string,
    path: string,
    content: string,
  ): Promise<{ path: string; size: number }> {
    const query = new URLSearchParams({ path, mkdirs: 'true' });
    const written = await this.call(
      caller,
      'PUT',
      `/sandboxes/${sandboxId}/files/content?${query.toString()}`,
      {
        content,
      },
    );
    return { path: String(written['path']), size: Number(written['size']) };
  }

  /** Deletes a file, a symlink (not its target) or a directory (`recursive` when it is not empty). */
  async deleteFile(
    caller: SandboxCaller,
    sandboxId: string,
    path: string,
    recursive: boolean,
  ): Promise<void> {
    const query = new URLSearchParams({ path, recursive: String(recursive) });
    await this.call(caller, 'DELETE', `/sandboxes/${sandboxId}/files?${query.toString()}`);
  }

  private async call(
    caller: SandboxCaller,
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<Record<string, unknown>> {
    const response = await this.send(caller, method, path, body, extra);
    if (!response.ok) throw await callError(response);
    return (await response.json().catch(() => ({}))) as Record<string, unknown>;
  }

  /** The request as the caller, the response unread; an unreachable code-sandbox is `backend_unavailable`. */
  private async send(
    caller: SandboxCaller,
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...principalHeaders(caller.principal, this.principalKeys, {
            turnId: caller.turnId,
            ...(caller.capToken === undefined ? {} : { capToken: caller.capToken }),
          }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extra,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: caller.signal,
      });
    } catch (error: unknown) {
      if (caller.signal.aborted) throw error;
      throw new SandboxCallError('backend_unavailable', 'code-sandbox cannot be reached');
    }
  }
}

/** A failed answer as a `SandboxCallError`, with code-sandbox's `code` and message when its body has them. */
async function callError(response: Response): Promise<SandboxCallError> {
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return new SandboxCallError(
    typeof json['code'] === 'string' ? json['code'] : 'sandbox_error',
    typeof json['error'] === 'string' ? json['error'] : `code-sandbox answered ${String(response.status)}`,
  );
}
