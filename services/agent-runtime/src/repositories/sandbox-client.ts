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

  private async call(
    caller: SandboxCaller,
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
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
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      throw new SandboxCallError(
        typeof json['code'] === 'string' ? json['code'] : 'sandbox_error',
        typeof json['error'] === 'string'
          ? json['error']
          : `code-sandbox answered ${String(response.status)}`,
      );
    }
    return json;
  }
}
