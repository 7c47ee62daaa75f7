import { apiFetch, apiJson } from '../../api/client.js';

/** Every code-sandbox route is served by the gateway under this prefix. */
const BASE = '/v1/sandbox';

export type SandboxState =
  'pending' | 'provisioning' | 'ready' | 'stopped' | 'deleting' | 'deleted' | 'failed';

export type ExecStatus = 'running' | 'exited' | 'cancelled' | 'timed_out' | 'lost';

/** The spec as the service stores it (defaults filled in, `env` values as `***`). */
export interface SandboxSpec {
  readonly image?: string | null;
  readonly resources?: { cpus?: number; memory_mb?: number; pids?: number; disk_mb?: number };
  readonly ttl_s?: number | null;
  readonly idle_ttl_s?: number | null;
  readonly network?: { mode: 'none' } | { mode: 'egress'; allow: readonly string[] };
  readonly env?: Readonly<Record<string, string>>;
  readonly credentials?: readonly { id: string; as_env?: string; as_file?: string }[];
  readonly mounts?: readonly { source: string; target: string; writable: boolean }[];
  readonly copies?: readonly { source: string; target: string }[];
  readonly git_repos?: readonly { url: string; branch: string | null; dest: string }[];
  readonly provisioning_scripts?: readonly { name: string }[];
}

export interface Sandbox {
  readonly id: string;
  /** The user who created it. */
  readonly owner_id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtime: string;
  readonly state: SandboxState;
  readonly error: { code: string; message: string } | null;
  readonly spec: SandboxSpec | null;
  readonly expires_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface Exec {
  readonly id: string;
  readonly sandbox_id: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly status: ExecStatus;
  readonly exit_code: number | null;
  readonly started_at: string;
  readonly ended_at: string | null;
}

export interface SandboxArtifact {
  readonly id: string;
  readonly path: string;
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
  readonly content_type: string;
  readonly created_at: string;
}

/** One event of a sandbox's ordered log, as its SSE stream carries it. */
export interface SandboxEvent {
  readonly seq: number;
  readonly type: string;
  readonly at: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** States the service is still converging from: worth watching until they settle. */
export function isTransitional(state: SandboxState): boolean {
  return state === 'pending' || state === 'provisioning' || state === 'deleting';
}

export function stateColor(state: SandboxState): string {
  switch (state) {
    case 'ready':
      return 'green';
    case 'pending':
    case 'provisioning':
      return 'blue';
    case 'stopped':
      return 'yellow';
    case 'deleting':
      return 'orange';
    case 'deleted':
      return 'gray';
    case 'failed':
      return 'red';
  }
}

export type SandboxAction = 'stop' | 'start' | 'delete';

/** What the service takes in each state (a refused one answers 409 `sandbox_not_ready`). */
export function allowedActions(state: SandboxState): Record<SandboxAction, boolean> {
  return {
    stop: state === 'ready',
    start: state === 'stopped',
    delete: state === 'ready' || state === 'stopped' || state === 'failed',
  };
}

export const sandboxKeys = {
  list: ['sandboxes'] as const,
  one: (id: string) => ['sandbox', id] as const,
  execs: (id: string) => ['sandbox-execs', id] as const,
  artifacts: (id: string) => ['sandbox-artifacts', id] as const,
};

export function sandboxPath(id: string, rest = ''): string {
  return `${BASE}/sandboxes/${encodeURIComponent(id)}${rest}`;
}

export async function listSandboxes(signal: AbortSignal): Promise<readonly Sandbox[]> {
  return (await apiJson<{ data: Sandbox[] }>(`${BASE}/sandboxes?limit=200`, { signal })).data;
}

export function getSandbox(id: string, signal: AbortSignal): Promise<Sandbox> {
  return apiJson<Sandbox>(sandboxPath(id), { signal });
}

export function runSandboxAction(id: string, action: SandboxAction): Promise<Sandbox> {
  return action === 'delete'
    ? apiJson<Sandbox>(sandboxPath(id), { method: 'DELETE' })
    : apiJson<Sandbox>(sandboxPath(id, `/${action}`), { method: 'POST' });
}

export async function listExecs(id: string, signal: AbortSignal): Promise<readonly Exec[]> {
  return (await apiJson<{ data: Exec[] }>(sandboxPath(id, '/execs'), { signal })).data;
}

/**
 * Kills a running exec and everything it started; the answer is the exec, now `cancelled` (or how it ended, when
 * it ended first). One that had already ended answers 409 `exec_not_running`.
 */
export function cancelExec(sandboxId: string, execId: string): Promise<Exec> {
  return apiJson<Exec>(sandboxPath(sandboxId, `/execs/${encodeURIComponent(execId)}/cancel`), {
    method: 'POST',
  });
}

export async function listArtifacts(id: string, signal: AbortSignal): Promise<readonly SandboxArtifact[]> {
  return (await apiJson<{ data: SandboxArtifact[] }>(sandboxPath(id, '/artifacts?limit=1000'), { signal }))
    .data;
}

export async function downloadArtifact(sandboxId: string, artifactId: string): Promise<Blob> {
  return (await apiFetch(sandboxPath(sandboxId, `/artifacts/${encodeURIComponent(artifactId)}`))).blob();
}

/** One page of an exec's stdout or stderr: raw bytes from `offset`, and the stream's size so far. */
export async function readOutput(
  sandboxId: string,
  execId: string,
  stream: 'stdout' | 'stderr',
  offset: number,
  length: number,
  signal: AbortSignal,
): Promise<{ bytes: Uint8Array; offset: number; size: number }> {
  const query = new URLSearchParams({ stream, offset: String(offset), length: String(length) });
  const response = await apiFetch(
    sandboxPath(sandboxId, `/execs/${encodeURIComponent(execId)}/output?${query.toString()}`),
    {
      signal,
    },
  );
  const bytes = new Uint8Array(await response.arrayBuffer());
  const size = Number(response.headers.get('x-output-size') ?? Number.NaN);
  return { bytes, offset, size: Number.isFinite(size) ? size : offset + bytes.length };
}
